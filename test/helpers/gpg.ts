// Real GnuPG for tests: a throwaway GNUPGHOME per keyring, keys made and used with the gpg command line.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface GpgResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface Gpg {
  readonly home: string;
  run(args: readonly string[], input?: string): Promise<GpgResult>;
  /** Makes an ed25519/cv25519 key without passphrase; returns its fingerprint. */
  generate(uid: string): Promise<string>;
  exportPublic(fingerprint: string): Promise<string>;
  dispose(): Promise<void>;
}

export async function makeGpg(parent: string, name: string): Promise<Gpg> {
  const home = await mkdtemp(join(parent, `gnupg-${name}-`));
  const run = async (args: readonly string[], input?: string): Promise<GpgResult> => {
    const child = execFileAsync('gpg', ['--homedir', home, '--batch', '--yes', '--no-tty', ...args], {
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, GNUPGHOME: home },
    });
    if (input !== undefined) {
      child.child.stdin?.end(input);
    }
    try {
      const { stdout, stderr } = await child;
      return { stdout, stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number };
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code ?? 1 };
    }
  };
  return {
    home,
    run,
    async generate(uid) {
      const made = await run([
        '--passphrase',
        '',
        '--quick-gen-key',
        uid,
        'future-default',
        'default',
        'never',
      ]);
      if (made.code !== 0) throw new Error(`gpg --quick-gen-key failed: ${made.stderr}`);
      const listed = await run(['--with-colons', '--list-keys', uid]);
      const fpr = listed.stdout.split('\n').find((l) => l.startsWith('fpr:'));
      if (!fpr) throw new Error(`no fingerprint for ${uid}`);
      return fpr.split(':')[9]!;
    },
    async exportPublic(fingerprint) {
      const out = await run(['--export', '--armor', fingerprint]);
      if (out.code !== 0 || !out.stdout.includes('BEGIN PGP PUBLIC KEY'))
        throw new Error(`gpg --export failed: ${out.stderr}`);
      return out.stdout;
    },
    async dispose() {
      // The agent gpg started for this home ends with it.
      await execFileAsync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']).catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}
