// Upload into an OpenPGP encrypt folder against a plain folder of the same Ferry and user, runs alternating;
// what the encrypt folder stored is decrypted with GnuPG and must give back the uploaded bytes.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { sha256File } from './files.js';
import { treeCpuMs } from './proc-stats.js';
import { type Measurement, median, pairOrder } from './scenarios.js';
import type { BenchServer } from './servers.js';
import { type ClientContext, commandMs, runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const KEY = 'bench-recipient';
const FOLDER = 'pgp-in';
/** More than there are workers (one per core by default), so every worker has encrypted once. */
const WARM_UP_UPLOADS = 4;

/** Lowest and highest run of each column, shown under the row so a median comes with its spread. */
export function spread(runs: Record<'ferry' | 'openssh', number[]>, unit: string) {
  return {
    [`min ${unit}`]: { ferry: Math.min(...runs.ferry), openssh: Math.min(...runs.openssh) },
    [`max ${unit}`]: { ferry: Math.max(...runs.ferry), openssh: Math.max(...runs.openssh) },
  };
}

/** `gpg --decrypt` of `message` with the private key in `keyFile`, in a GNUPGHOME of its own; the plaintext's SHA-256. */
async function gpgDecryptedSha256(root: string, keyFile: string, message: string): Promise<string> {
  const home = await mkdtemp(join(root, 'gnupg-'));
  const out = join(root, 'pgp-decrypted.bin');
  try {
    const gpg = (args: string[]) =>
      execFileAsync('gpg', ['--homedir', home, '--batch', '--quiet', ...args], { maxBuffer: 4 * MIB });
    await gpg(['--import', keyFile]);
    await gpg(['--yes', '--output', out, '--decrypt', message]);
    return await sha256File(out);
  } finally {
    await rm(out, { force: true });
    // gpg-agent started for this home leaves with it (it watches its socket directory).
    await rm(home, { recursive: true, force: true });
  }
}

export async function gpgAvailable(): Promise<boolean> {
  try {
    await execFileAsync('gpg', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * `runs` uploads of `source` into `/pgp-in` (policy `encrypt:` a key generated here) and into the plain
 * transfer folder, alternating. The OpenSSH column is the plain folder of the same Ferry.
 */
export async function pgpEncryptFolder(options: {
  readonly repo: string;
  readonly dataDir: string;
  readonly root: string;
  readonly ferry: BenchServer;
  readonly client: ClientContext;
  readonly source: { readonly path: string; readonly sha256: string; readonly bytes: number };
  /** A small file uploaded before the measured runs. */
  readonly warmUpPath: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { ferry, client, source, log } = options;
  const cli = (args: string[]) =>
    execFileAsync(process.execPath, ['bin/ferry.js', ...args, '--data-dir', options.dataDir], {
      cwd: options.repo,
    });
  const keyFile = join(options.root, `${KEY}.asc`);
  const folder = join(dirname(ferry.localDir), FOLDER);
  await mkdir(folder, { recursive: true });
  await cli(['keys', 'pgp', 'generate', KEY, '--email', 'bench@example.com']);
  await cli(['keys', 'pgp', 'export', KEY, '--private', '--output', keyFile]);
  await cli(['users', 'set', ferry.user, '--pgp', `/${FOLDER}=encrypt:${KEY}`]);
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const gib = source.bytes / (1024 * MIB);
  const up = { ferry: [] as number[], openssh: [] as number[] };
  const cpu = { ferry: [] as number[], openssh: [] as number[] };
  const targets = {
    ferry: `/${FOLDER}/pgp-up.bin`,
    openssh: `${ferry.remoteDir}/pgp-plain.bin`,
  } as const;
  try {
    // Not measured: each worker loads the OpenPGP library on its first encrypt-folder upload (~0.3 s, which
    // would be a large part of a quick run's 64 MiB), and node:cluster hands connections out in turn.
    for (let i = 0; i < WARM_UP_UPLOADS; i++) {
      await runBatch(ferry, client, `put ${options.warmUpPath} /${FOLDER}/warm-up.bin\n`);
    }
    for (let run = 0; run < options.runs; run++) {
      for (const column of pairOrder(run, 'ferry' as const, 'openssh' as const)) {
        const before = await treeCpuMs(ferry.pid);
        const result = await runBatch(ferry, client, `put ${source.path} ${targets[column]}\npwd\n`);
        cpu[column].push(((await treeCpuMs(ferry.pid)) - before) / 1000 / gib);
        up[column].push(source.bytes / MIB / (commandMs(result) / 1000));
        log(
          `  upload ${size}, ${column === 'ferry' ? 'encrypt folder' : 'plain folder'}: ${up[column].at(-1)!.toFixed(0)} MiB/s`,
        );
      }
    }
    if ((await sha256File(join(ferry.localDir, 'pgp-plain.bin'))) !== source.sha256) {
      throw new Error('pgp bench: the plain folder stored other bytes than were uploaded');
    }
    const stored = join(folder, 'pgp-up.bin.pgp');
    if ((await gpgDecryptedSha256(options.root, keyFile, stored)) !== source.sha256) {
      throw new Error('pgp bench: gpg --decrypt of what the encrypt folder stored differs from the upload');
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
    await rm(join(ferry.localDir, 'pgp-plain.bin'), { force: true });
    await rm(keyFile, { force: true });
    await cli(['users', 'set', ferry.user, '--pgp', `/${FOLDER}=none`]).catch(() => undefined);
  }
  return [
    {
      id: 'upload-pgp-encrypt-folder',
      label: `upload 1×${size} into a PGP encrypt folder (OpenSSH column: Ferry, plain folder)`,
      unit: 'MiB/s',
      better: 'higher',
      target: { kind: 'ratio-at-least', value: 0.5 },
      runs: up,
      extra: {
        ...spread(up, 'MiB/s'),
        'server CPU s/GiB': { ferry: median(cpu.ferry), openssh: median(cpu.openssh) },
      },
    },
  ];
}
