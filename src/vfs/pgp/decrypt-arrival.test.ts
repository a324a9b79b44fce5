// Encrypting a stored file and decrypting an arrival over the local backend: streamed, in bounded memory, nothing half-published.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generatePgpKey } from '../../keys/pgp.js';
import { loggers } from '../../logger.js';
import { retainedBytes } from '../../util/retained-memory-fixture.js';
import { LocalFs } from '../local/local-fs.js';
import { decryptArrival, type PgpKeyMaterial } from './decrypt-arrival.js';
import { encryptFile } from './encrypt-file.js';

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The Key Manager's answers for one generated key (what key-manager/pgp-key-source.ts serves from the store). */
async function oneKey(): Promise<{ keys: PgpKeyMaterial; fingerprint: string }> {
  const key = await generatePgpKey({ name: 'k', email: 'k@example.com' });
  const keys: PgpKeyMaterial = {
    publicKeys: async (fps) => fps.map(() => key.publicArmored),
    privateKey: async () => key.privateArmored,
    decryptionKeys: async () => [key.privateArmored],
  };
  return { keys, fingerprint: key.fingerprint };
}

// The bound (RSS growth under 64 MiB while encrypting and decrypting); a buffering decryptor retains the
// whole 160 MiB plaintext. Held: 2.5-3 MiB (unswept garbage read up to 48 MiB before the fixture's sweep).
test('a 160 MiB file is encrypted, then decrypted and verified as an arrival, each retaining under 64 MiB', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-arrival-'));
  const fs = new LocalFs({ root: dir, createRoot: true });
  try {
    const { keys, fingerprint } = await oneKey();
    const out = await open(join(dir, 'big.bin'), 'w');
    for (let i = 0; i < 160; i++) await out.write(Buffer.alloc(1024 * 1024, i % 251));
    await out.close();
    const expected = await sha256Of(join(dir, 'big.bin'));

    const baseline = retainedBytes();
    let worst = 0;
    const sampler = setInterval(() => {
      worst = Math.max(worst, retainedBytes() - baseline);
    }, 250);
    try {
      await encryptFile(fs, '/big.bin', '/big.bin.pgp', keys, {
        encryptTo: [fingerprint],
        signWith: fingerprint,
      });
      await rm(join(dir, 'big.bin'));
      const outcome = await decryptArrival(
        fs,
        '/big.bin.pgp',
        { mode: 'decrypt', verifyWith: [fingerprint] },
        keys,
        loggers.core,
      );
      assert.equal(outcome.phase, 'decrypted', JSON.stringify(outcome));
      assert.equal(outcome.phase === 'decrypted' ? outcome.signer : undefined, fingerprint);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(worst < 64 * 1024 * 1024, `retained ${(worst / 2 ** 20).toFixed(1)} MiB`);
    assert.deepEqual(await readdir(dir), ['big.bin']);
    assert.equal(await sha256Of(join(dir, 'big.bin')), expected);
  } finally {
    await fs.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a message cut short is quarantined and leaves no plaintext behind', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-arrival-'));
  const fs = new LocalFs({ root: dir, createRoot: true });
  try {
    const { keys, fingerprint } = await oneKey();
    await writeFile(join(dir, 'a.txt'), Buffer.alloc(2 * 1024 * 1024, 'secret text '));
    await encryptFile(fs, '/a.txt', '/a.txt.pgp', keys, { encryptTo: [fingerprint] });
    await rm(join(dir, 'a.txt'));
    const whole = await readFile(join(dir, 'a.txt.pgp'));
    await writeFile(join(dir, 'a.txt.pgp'), whole.subarray(0, whole.length - 100));
    const outcome = await decryptArrival(fs, '/a.txt.pgp', { mode: 'decrypt' }, keys, loggers.core);
    assert.equal(outcome.phase, 'quarantined');
    assert.equal(outcome.target, '/quarantine/a.txt.pgp');
    assert.deepEqual(await readdir(dir), ['quarantine'], 'no temporary or partial plaintext');
    assert.deepEqual(await readdir(join(dir, 'quarantine')), ['a.txt.pgp']);
  } finally {
    await fs.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
