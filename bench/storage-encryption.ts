// Upload and download through encrypted storage against plain local storage: a second Ferry with
// --storage-encryption (its own data dir and home) next to the plain one, runs alternating between the two.
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { sha256File } from './files.js';
import { spread } from './pgp-folder.js';
import { treeCpuMs } from './proc-stats.js';
import { type Measurement, median } from './scenarios.js';
import { type BenchLayout, type BenchServer, startFerry } from './servers.js';
import { type ClientContext, commandMs, runBatch } from './sftp-client.js';

const MIB = 1024 * 1024;

/** The encrypted Ferry's layout: everything of its own under `<root>/encrypted`. */
async function encryptedLayout(layout: BenchLayout): Promise<BenchLayout> {
  const root = join(layout.root, 'encrypted');
  const ferryHome = join(root, 'home');
  const logDir = join(root, 'logs');
  await mkdir(ferryHome, { recursive: true });
  await mkdir(logDir, { recursive: true });
  return { ...layout, root, ferryHome, sharedDir: join(ferryHome, 'many'), logDir };
}

/**
 * `runs` uploads and then downloads of `source` per server, encrypted and plain alternating. The OpenSSH column of
 * these rows is the plain Ferry (as in the rules rows); the single-stream rows compare plain Ferry with OpenSSH.
 */
export async function encryptedStorage(options: {
  readonly repo: string;
  readonly layout: BenchLayout;
  readonly cleanup: Cleanup;
  readonly plain: BenchServer;
  readonly workers: number;
  readonly cpuProfileDir?: string | undefined;
  readonly client: ClientContext;
  readonly source: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly clientDir: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { plain, client, source, log } = options;
  const encrypted = await startFerry(options.repo, await encryptedLayout(options.layout), options.cleanup, {
    workers: options.workers,
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
    env: { FERRY_STORAGE_ENCRYPTION: 'true' },
  });
  log(`  encrypted ferry: port ${encrypted.port}`);
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const gib = source.bytes / (1024 * MIB);
  const up = { ferry: [] as number[], openssh: [] as number[] };
  const down = { ferry: [] as number[], openssh: [] as number[] };
  const upCpu = { ferry: [] as number[], openssh: [] as number[] };
  const downCpu = { ferry: [] as number[], openssh: [] as number[] };
  const pairs = [
    ['ferry', encrypted],
    ['openssh', plain],
  ] as const;
  try {
    for (let run = 0; run < options.runs; run++) {
      for (const [column, server] of pairs) {
        const cpu = await treeCpuMs(server.pid);
        const result = await runBatch(
          server,
          client,
          `put ${source.path} ${server.remoteDir}/enc-up.bin\npwd\n`,
        );
        upCpu[column].push(((await treeCpuMs(server.pid)) - cpu) / 1000 / gib);
        up[column].push(source.bytes / MIB / (commandMs(result) / 1000));
        log(
          `  upload ${size}, ${column === 'ferry' ? 'encrypted' : 'plain'}: ${up[column].at(-1)!.toFixed(0)} MiB/s`,
        );
      }
    }
    // What the encrypted server stored is a container (larger than the plaintext, never equal to it).
    const stored = join(encrypted.localDir, 'enc-up.bin');
    if ((await stat(stored)).size <= source.bytes || (await sha256File(stored)) === source.sha256) {
      throw new Error('encrypted storage bench: the encrypted Ferry stored the file in plain');
    }
    const target = join(options.clientDir, 'enc-down.bin');
    for (let run = 0; run < options.runs; run++) {
      for (const [column, server] of pairs) {
        const cpu = await treeCpuMs(server.pid);
        const result = await runBatch(server, client, `get ${server.remoteDir}/enc-up.bin ${target}\npwd\n`);
        downCpu[column].push(((await treeCpuMs(server.pid)) - cpu) / 1000 / gib);
        down[column].push(source.bytes / MIB / (commandMs(result) / 1000));
        if ((await sha256File(target)) !== source.sha256) {
          throw new Error(
            `encrypted storage bench: checksum mismatch after download from the ${column} column`,
          );
        }
        await rm(target);
        log(
          `  download ${size}, ${column === 'ferry' ? 'encrypted' : 'plain'}: ${down[column].at(-1)!.toFixed(0)} MiB/s`,
        );
      }
    }
  } finally {
    await rm(join(plain.localDir, 'enc-up.bin'), { force: true });
    await encrypted.stop();
  }
  const cpuMedians = (runs: typeof upCpu) => ({ ferry: median(runs.ferry), openssh: median(runs.openssh) });
  const row = {
    unit: 'MiB/s',
    better: 'higher' as const,
    target: { kind: 'ratio-at-least' as const, value: 0.8 },
  };
  return [
    {
      ...row,
      id: 'upload-encrypted-storage',
      label: `upload 1×${size} to encrypted storage (OpenSSH column: Ferry, plain storage)`,
      runs: up,
      extra: { ...spread(up, 'MiB/s'), 'server CPU s/GiB': cpuMedians(upCpu) },
    },
    {
      ...row,
      id: 'download-encrypted-storage',
      label: `download 1×${size} from encrypted storage (OpenSSH column: Ferry, plain storage)`,
      runs: down,
      extra: { ...spread(down, 'MiB/s'), 'server CPU s/GiB': cpuMedians(downCpu) },
    },
  ];
}
