// The single-stream rows: one upload and one download of one big file per run with each cipher, the servers
// alternating A B B A, checksums verified, each run's server CPU and client CPU per GiB logged. The same loop
// measures their floor (bench/floor-streams.ts), where the Ferry column is a server that does no file work.
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  emptyRuns,
  expectHash,
  type Measurement,
  medians,
  mibPerSecond,
  type ScenarioContext,
  serverOrder,
  withCpus,
} from './scenarios.js';
import type { BenchServer } from './servers.js';
import { commandMs, runBatch } from './sftp-client.js';

const MIB = 1024 * 1024;

export interface StreamSource {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface StreamRowsOptions {
  /** Prefix of the rows' ids and labels (`floor-`, `floor: `); none for the single-stream rows. */
  readonly idPrefix: string;
  readonly labelPrefix: string;
  readonly labelSuffix: string;
  /** Checks what an upload left on `server` (the source's bytes as `up.bin`), and removes it. */
  verifyUpload(server: BenchServer): Promise<void>;
}

/**
 * Uploads then downloads `source` `ctx.runs` times per server with `cipher`; each server must serve the source's
 * bytes as `down.bin` in its remote directory. Besides MiB/s, each row reports the server's CPU per GiB (its
 * process tree) and the client's (sftp and the ssh it reaped): on this machine the client's is the larger, and
 * most of a download's is the kernel's, placing the arriving file in fresh pages.
 */
export async function streamRows(
  ctx: ScenarioContext,
  source: StreamSource,
  cipher: string,
  o: StreamRowsOptions,
): Promise<Measurement[]> {
  const tag = cipher.replace('@openssh.com', '');
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const gib = source.bytes / (1024 * MIB);
  const target = join(ctx.clientDir, 'down.bin');
  const out: Measurement[] = [];
  for (const direction of ['upload', 'download'] as const) {
    const runs = emptyRuns();
    const serverCpu = emptyRuns();
    const clientCpu = emptyRuns();
    const label = `${o.labelPrefix}${direction} 1×${size}, ${tag}${o.labelSuffix}`;
    for (let run = 0; run < ctx.runs; run++) {
      for (const server of serverOrder(ctx, run)) {
        const batch =
          direction === 'upload'
            ? `put ${source.path} ${server.remoteDir}/up.bin\npwd\n`
            : `get ${server.remoteDir}/down.bin ${target}\npwd\n`;
        const [result, cpu, clientMs] = await withCpus(server, () =>
          runBatch(server, ctx.client, batch, { cipher }),
        );
        clientCpu[server.name].push(clientMs / 1000 / gib);
        if (direction === 'upload') await o.verifyUpload(server);
        else {
          await expectHash(target, source.sha256, `download from ${server.name}`);
          await rm(target);
        }
        serverCpu[server.name].push(cpu / 1000 / gib);
        runs[server.name].push(mibPerSecond(source.bytes, commandMs(result)));
        ctx.log(
          `  ${label} ${server.name}: ${runs[server.name].at(-1)!.toFixed(0)} MiB/s, ` +
            `server CPU ${serverCpu[server.name].at(-1)!.toFixed(2)} s/GiB, client CPU ${clientCpu[server.name].at(-1)!.toFixed(2)} s/GiB`,
        );
      }
    }
    out.push({
      id: `${o.idPrefix}${direction}-${tag}`,
      label,
      unit: 'MiB/s',
      better: 'higher',
      runs,
      target: { kind: 'ratio-at-least', value: 1.2 },
      extra: { 'server CPU s/GiB': medians(serverCpu), 'client CPU s/GiB': medians(clientCpu) },
    });
  }
  return out;
}

/** Issue 22's single-stream rows: Ferry against sshd, both storing and serving real files. */
export async function singleStream(
  ctx: ScenarioContext,
  source: StreamSource,
  cipher: string,
): Promise<Measurement[]> {
  for (const server of ctx.servers) await copyFile(source.path, join(server.localDir, 'down.bin'));
  try {
    return await streamRows(ctx, source, cipher, {
      idPrefix: '',
      labelPrefix: '',
      labelSuffix: '',
      async verifyUpload(server) {
        await expectHash(join(server.localDir, 'up.bin'), source.sha256, `upload to ${server.name}`);
        await rm(join(server.localDir, 'up.bin'));
      },
    });
  } finally {
    for (const server of ctx.servers) await rm(join(server.localDir, 'down.bin'), { force: true });
  }
}
