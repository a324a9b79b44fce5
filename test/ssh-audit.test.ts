// ssh-audit (Debian package ssh-audit) against a default Ferry: no [fail]; the opt-in compat profile is what fails.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);

/** ssh-audit's exit codes: 0 good, 1 connection error, 2 warnings, 3 failures. */
interface Audit {
  exitCode: number;
  output: string;
  fails: string[];
  warns: string[];
}

async function haveSshAudit(): Promise<boolean> {
  try {
    await execFileAsync('ssh-audit', ['--help']);
    return true;
  } catch (err) {
    // --help exits 0 on 2.5; anything but "not found" means it is there.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

const skip = (await haveSshAudit()) ? false : 'ssh-audit is not installed (Debian package: ssh-audit)';

/** Runs ssh-audit asynchronously (the server runs in this process, so a sync run would starve it). */
async function audit(port: number): Promise<Audit> {
  let exitCode = 0;
  let output: string;
  try {
    output = (await execFileAsync('ssh-audit', ['-n', '-t', '10', '-p', String(port), '127.0.0.1'])).stdout;
  } catch (err) {
    const failed = err as { code?: number; stdout?: string };
    exitCode = failed.code ?? -1;
    output = failed.stdout ?? '';
  }
  const lines = output.split('\n');
  // A finding line is `(kex) name -- [fail] why`; continuation lines start with "`- [warn] ..." under it.
  let subject = '';
  const fails: string[] = [];
  const warns: string[] = [];
  for (const line of lines) {
    const head = /^\((\w+)\)\s+(\S+(?: \([^)]*\))?)/.exec(line);
    if (head) subject = `(${head[1]}) ${head[2]}`;
    const finding = /\[(fail|warn)\]\s+(.*)$/.exec(line);
    if (!finding) continue;
    const text = `${subject}: ${finding[2]!.trim()}`;
    (finding[1] === 'fail' ? fails : warns).push(text);
  }
  return { exitCode, output, fails, warns };
}

describe('ssh-audit', { skip }, () => {
  it('finds no [fail] in the default (modern) profile, and only the documented warnings', async (t) => {
    const server = await startTestServer();
    try {
      const result = await audit(server.port);
      for (const warning of result.warns) t.diagnostic(`[warn] ${warning}`);
      assert.notEqual(result.exitCode, 1, `ssh-audit could not audit the server:\n${result.output}`);
      assert.match(result.output, /banner: SSH-2\.0-Ferry/);
      assert.deepEqual(result.fails, [], result.output);
      assert.ok(result.exitCode === 0 || result.exitCode === 2, `exit ${result.exitCode}`);
      // Every warning is explained in docs/SECURITY.md; a new one must be looked at (and documented) first.
      const documented = [
        /^\(mac\) hmac-sha2-256: using encrypt-and-MAC mode$/,
        /^\(mac\) hmac-sha2-512: using encrypt-and-MAC mode$/,
        // ssh-audit before 3.1 does not know the strict-kex (Terrapin) marker.
        /^\(kex\) kex-strict-s-v00@openssh\.com: unknown algorithm$/,
        // ssh-audit before 3.3 does not know the post-quantum hybrid (OpenSSH 10's default).
        /^\(kex\) mlkem768x25519-sha256: unknown algorithm$/,
      ];
      for (const warning of result.warns) {
        assert.ok(
          documented.some((re) => re.test(warning)),
          `undocumented ssh-audit warning: ${warning}`,
        );
      }
      // Group exchange is offered, and even ssh-audit's probe for small groups gets at least 2048 bits.
      const gex = /\(kex\) diffie-hellman-group-exchange-sha256 \((\d+)-bit\)/.exec(result.output);
      assert.ok(gex && Number(gex[1]) >= 2048, result.output);
      // No NIST ECDH, no ECDSA host key, nothing SHA-1, CBC or DSA is offered at all.
      for (const banned of [/ecdh-sha2-nistp/, /ecdsa-sha2/, /-sha1\b/, /-cbc\b/, /ssh-dss/, /hmac-sha1/]) {
        assert.doesNotMatch(result.output.split('# fingerprints')[0]!, banned);
      }
    } finally {
      await server.close();
    }
  });

  it('reports the NIST curves of the opt-in compat profile as [fail]: compat is for old clients only', async (t) => {
    const server = await startTestServer({ config: { algorithms: 'compat' } });
    try {
      const result = await audit(server.port);
      for (const failure of result.fails) t.diagnostic(`[fail] ${failure}`);
      for (const warning of result.warns) t.diagnostic(`[warn] ${warning}`);
      assert.equal(result.exitCode, 3, result.output);
      assert.deepEqual(result.fails.sort(), [
        '(kex) ecdh-sha2-nistp256: using weak elliptic curves',
        '(kex) ecdh-sha2-nistp384: using weak elliptic curves',
        '(kex) ecdh-sha2-nistp521: using weak elliptic curves',
        '(key) ecdsa-sha2-nistp256: using weak elliptic curves',
      ]);
      // Still nothing SHA-1, CBC or DSA.
      for (const banned of [/-sha1\b/, /-cbc\b/, /ssh-dss/, /hmac-sha1/]) {
        assert.doesNotMatch(result.output.split('# fingerprints')[0]!, banned);
      }
    } finally {
      await server.close();
    }
  });
});
