// Sessions that reach an idle server: the MFT pattern of partners that connect now and then, not back to back.
// Each run leaves both servers idle for a while, then one session uploads a directory of small files.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { digests, sameDigests, smallFileSet, transferMs } from './mft-workloads.js';
import { treeCpuMs } from './proc-stats.js';
import { markRunStart } from './profile-windows.js';
import { emptyRuns, type Measurement, medians, pairOrder, type ScenarioContext } from './scenarios.js';
import type { BenchServer } from './servers.js';
import { runBatch } from './sftp-client.js';

/**
 * Why a row of its own: what a server does while idle can cost the session that ends the pause. Ferry's workers
 * run a full GC once idle (src/cli/idle-gc.ts), and V8 then drops the optimized code that served the last
 * sessions; the small-file row's sessions follow one another too closely to show it. So both servers are warmed
 * first (`warmSessions` each, back to back: a fresh Ferry would measure its first compilations, not the pause),
 * then each timed session comes after `pauseSeconds` of idleness. Files per second of the transfer command and the
 * server's CPU per 1000 files.
 */
export async function sessionsAfterPauses(
  ctx: ScenarioContext,
  o: { files: number; bytes: number; pauseSeconds: number; warmSessions: number },
): Promise<Measurement[]> {
  const size = o.bytes >= 1024 ? `${o.bytes / 1024} KiB` : `${o.bytes} B`;
  const row: Measurement = {
    id: 'pause-upload',
    label: `upload ${o.files} files of ${size} after ${o.pauseSeconds} s idle`,
    unit: 'files/s',
    better: 'higher',
    runs: emptyRuns(),
  };
  const cpu = emptyRuns();
  const source = join(ctx.clientDir, 'pause-set');
  const sent = await smallFileSet(source, o.files, o.bytes);
  const [first, second] = ctx.servers;
  const upload = (server: BenchServer) =>
    runBatch(server, ctx.client, `put -r ${source} ${server.remoteDir}/pause\npwd\n`, { timeoutMs: 600_000 });
  for (let i = 0; i < o.warmSessions; i++) {
    for (const server of ctx.servers) {
      await upload(server);
      await rm(join(server.localDir, 'pause'), { recursive: true });
    }
  }
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of pairOrder(run, first!, second!)) {
      await sleep(o.pauseSeconds * 1000);
      const before = await treeCpuMs(server.pid);
      markRunStart();
      const result = await upload(server);
      cpu[server.name].push(((await treeCpuMs(server.pid)) - before) / (o.files / 1000));
      sameDigests(
        sent,
        await digests(join(server.localDir, 'pause')),
        `upload after a pause to ${server.name}`,
      );
      row.runs[server.name].push(o.files / (transferMs(result) / 1000));
      ctx.log(
        `  ${row.label} ${server.name}: ${row.runs[server.name].at(-1)!.toFixed(0)} files/s, ` +
          `${cpu[server.name].at(-1)!.toFixed(0)} ms CPU per 1000 files`,
      );
      await rm(join(server.localDir, 'pause'), { recursive: true });
    }
  }
  await rm(source, { recursive: true });
  return [{ ...row, extra: { 'server CPU ms/1000 files': medians(cpu) } }];
}
