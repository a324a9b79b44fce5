// Upload and download with homes on S3 against local disk: a second Ferry with storage backend s3 on a local
// s3rver (its own data dir) next to the plain one, the same OpenSSH client, runs alternating between the two.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startS3rver } from '../src/vfs/s3/s3rver-fixture.js';
import type { Cleanup } from './cleanup.js';
import { sha256File, writeRandomFile } from './files.js';
import { spread } from './pgp-folder.js';
import { treeCpuMs } from './proc-stats.js';
import { type Measurement, median } from './scenarios.js';
import { type BenchLayout, type BenchServer, startFerry } from './servers.js';
import { type ClientContext, commandMs, runBatch } from './sftp-client.js';

const MIB = 1024 * 1024;

/** The S3 Ferry's layout: everything of its own under `<root>/s3`. */
async function s3Layout(layout: BenchLayout): Promise<BenchLayout> {
  const root = join(layout.root, 's3');
  const ferryHome = join(root, 'home');
  const logDir = join(root, 'logs');
  await mkdir(ferryHome, { recursive: true });
  await mkdir(logDir, { recursive: true });
  return { ...layout, root, ferryHome, sharedDir: join(ferryHome, 'many'), logDir };
}

/**
 * `runs` uploads and then downloads of `source` per server, S3 and local disk alternating. The OpenSSH column of
 * these rows is the Ferry on local disk (as in the encrypted storage rows). s3rver stores on the same disk and
 * runs on the same machine: the rows measure Ferry's S3 path plus a local S3 server, not a network.
 */
export async function s3Storage(options: {
  readonly repo: string;
  readonly layout: BenchLayout;
  readonly cleanup: Cleanup;
  readonly plain: BenchServer;
  readonly workers: number;
  readonly cpuProfileDir?: string | undefined;
  readonly client: ClientContext;
  /** Size of the file sent and fetched (written under clientDir at the start). */
  readonly bytes: number;
  readonly clientDir: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { plain, client, log } = options;
  log(`s3 storage: ${options.bytes / MIB} MiB, ${options.runs} runs, Ferry on s3rver vs on local disk`);
  const path = join(options.clientDir, 's3.bin');
  const source = { path, bytes: options.bytes, sha256: await writeRandomFile(path, options.bytes) };
  const s3 = await startS3rver('ferry-bench');
  options.cleanup.task(() => s3.stop());
  const s3Client = s3.client();
  const onS3 = await startFerry(options.repo, await s3Layout(options.layout), options.cleanup, {
    workers: options.workers,
    ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
    env: {
      FERRY_STORAGE_BACKEND: 's3',
      FERRY_STORAGE_BUCKET: s3.bucket,
      FERRY_STORAGE_PREFIX: 'homes',
      FERRY_STORAGE_ENDPOINT: s3.endpoint,
      FERRY_STORAGE_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    },
  });
  log(`  s3 ferry: port ${onS3.port}, s3rver ${s3.endpoint}`);
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const gib = source.bytes / (1024 * MIB);
  const up = { ferry: [] as number[], openssh: [] as number[] };
  const down = { ferry: [] as number[], openssh: [] as number[] };
  const upCpu = { ferry: [] as number[], openssh: [] as number[] };
  const downCpu = { ferry: [] as number[], openssh: [] as number[] };
  const pairs = [
    ['ferry', onS3],
    ['openssh', plain],
  ] as const;
  const name = (column: string) => (column === 'ferry' ? 's3' : 'local disk');
  try {
    // The home's upload directory, as a marker object in the bucket.
    await runBatch(onS3, client, `-mkdir ${onS3.remoteDir}\npwd\n`);
    for (let run = 0; run < options.runs; run++) {
      for (const [column, server] of pairs) {
        const cpu = await treeCpuMs(server.pid);
        const result = await runBatch(
          server,
          client,
          `put ${source.path} ${server.remoteDir}/s3-up.bin\npwd\n`,
        );
        upCpu[column].push(((await treeCpuMs(server.pid)) - cpu) / 1000 / gib);
        up[column].push(source.bytes / MIB / (commandMs(result) / 1000));
        log(`  upload ${size}, ${name(column)}: ${up[column].at(-1)!.toFixed(0)} MiB/s`);
      }
    }
    // What the S3 Ferry stored is an object in the bucket, of the file's size (and nothing on its local disk).
    const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'homes/' }));
    const key = (listed.Contents ?? []).find((o) => o.Key?.endsWith('/xfer/s3-up.bin'))?.Key;
    const head = key && (await s3Client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key })));
    if (!head || head.ContentLength !== source.bytes) {
      throw new Error('s3 storage bench: the S3 Ferry did not store the upload in the bucket');
    }
    const target = join(options.clientDir, 's3-down.bin');
    for (let run = 0; run < options.runs; run++) {
      for (const [column, server] of pairs) {
        const cpu = await treeCpuMs(server.pid);
        const result = await runBatch(server, client, `get ${server.remoteDir}/s3-up.bin ${target}\npwd\n`);
        downCpu[column].push(((await treeCpuMs(server.pid)) - cpu) / 1000 / gib);
        down[column].push(source.bytes / MIB / (commandMs(result) / 1000));
        if ((await sha256File(target)) !== source.sha256) {
          throw new Error(`s3 storage bench: checksum mismatch after download from ${name(column)}`);
        }
        await rm(target);
        log(`  download ${size}, ${name(column)}: ${down[column].at(-1)!.toFixed(0)} MiB/s`);
      }
    }
  } finally {
    await rm(join(plain.localDir, 's3-up.bin'), { force: true });
    s3Client.destroy();
    await onS3.stop();
    await s3.stop();
  }
  const cpuMedians = (runs: typeof upCpu) => ({ ferry: median(runs.ferry), openssh: median(runs.openssh) });
  const row = { unit: 'MiB/s', better: 'higher' as const };
  return [
    {
      ...row,
      id: 'upload-s3-storage',
      label: `upload 1×${size} to S3 storage on s3rver (OpenSSH column: Ferry, local disk)`,
      runs: up,
      extra: { ...spread(up, 'MiB/s'), 'server CPU s/GiB': cpuMedians(upCpu) },
    },
    {
      ...row,
      id: 'download-s3-storage',
      label: `download 1×${size} from S3 storage on s3rver (OpenSSH column: Ferry, local disk)`,
      runs: down,
      extra: { ...spread(down, 'MiB/s'), 'server CPU s/GiB': cpuMedians(downCpu) },
    },
  ];
}
