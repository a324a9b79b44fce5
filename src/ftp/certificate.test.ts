// The generated FTPS certificate of a data dir shared by several processes (workers, cluster nodes): each one
// either makes the pair or reads the one another made, never a half-written file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { link, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { selfSignedCertificate } from '../keys/x509.js';
import { loadFtpsCertificate } from './certificate.js';

const run = promisify(execFile);
const MODULE = new URL('./certificate.ts', import.meta.url).href;
const PROCESSES = 4;
const ROUNDS = 8;

/** loadFtpsCertificate in a process of its own; its fingerprint (or the error it failed with). */
async function loadInChild(dataDir: string): Promise<string> {
  const script = `const { loadFtpsCertificate } = await import(${JSON.stringify(MODULE)});
const c = await loadFtpsCertificate(${JSON.stringify(dataDir)}, {}, { tlsMaterial: async () => { throw new Error('unused'); } });
process.stdout.write(c.fingerprint);`;
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    return stdout;
  } catch (err) {
    return `failed: ${(err as { stderr?: string }).stderr?.split('\n').find((l) => l.includes('Error')) ?? err}`;
  }
}

describe('the generated FTPS certificate', () => {
  it('is one pair when several processes start on a new data dir at once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = await mkdtemp(join(tmpdir(), 'ferry-ftps-cert-'));
      try {
        const prints = await Promise.all(Array.from({ length: PROCESSES }, () => loadInChild(dir)));
        assert.equal(new Set(prints).size, 1, `round ${round}: ${prints.join(' | ')}`);
        assert.match(prints[0]!, /^[0-9A-F:]+$/i, `round ${round}: ${prints[0]}`);
        assert.deepEqual(
          (await readdir(dir)).sort(),
          ['ftps-cert.pem', 'ftps-key.pem'],
          'no temporary file left',
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('found with its key but not yet its certificate, is waited for, not made again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-ftps-cert-'));
    try {
      // Another process has linked its key into place and is about to link the certificate.
      const theirs = selfSignedCertificate('Ferry FTPS', ['localhost']);
      await writeFile(join(dir, 'ftps-key.pem'), theirs.key, { mode: 0o600 });
      const loading = loadFtpsCertificate(
        dir,
        {},
        { tlsMaterial: async () => Promise.reject(new Error('unused')) },
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writeFile(join(dir, 'cert.tmp'), theirs.cert);
      await link(join(dir, 'cert.tmp'), join(dir, 'ftps-cert.pem'));
      const got = await loading;
      assert.equal(got.fingerprint, theirs.fingerprint);
      assert.equal(got.generated, false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
