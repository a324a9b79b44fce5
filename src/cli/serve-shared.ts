// What the ways of serving share (a single process, cluster worker processes, worker threads): the one-line
// message of a listener that cannot start, and the full GC once idle.
import { serveGatherRequests } from '../api/cluster-gather.js';
import { relayWorkerEvent } from '../api/event-relay.js';
import type { FerryConfig } from '../config/schema.js';
import { serveRateRequests } from '../core/rate-relay.js';
import { loggers } from '../logger.js';
import type { WorkerEnd } from '../util/worker-link.js';
import { describeError } from './common.js';
import { startIdleGc } from './idle-gc.js';

/**
 * In a primary (the cluster's, or the main thread of `--worker-mode threads`): serves a worker's relay message,
 * a gather for /metrics or /api/sessions (api/cluster-gather.ts), a bandwidth lease (core/rate-relay.ts) or a live
 * event for the streams (api/event-relay.ts). False for any other message.
 */
export function serveRelays(worker: WorkerEnd, message: unknown): boolean {
  return (
    serveGatherRequests(worker, message) ||
    serveRateRequests(worker, message) ||
    relayWorkerEvent(worker, message)
  );
}

/** A listener that cannot start, as one line with the fix (EADDRINUSE, EACCES on a low port, a bad address). */
export function describeListenError(err: unknown, config: FerryConfig): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.listen}:${config.sftpPort}`;
  if (code === 'EADDRINUSE')
    return `cannot listen on ${where}: the port is in use (another server, or a Ferry still running?); stop it or choose another --sftp-port`;
  if (code === 'EACCES')
    return `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another --sftp-port`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return `cannot listen on ${where}: no such local address; check --listen`;
  return describeError(err).message;
}

/**
 * The full GC a serving worker's old-generation floor defers, run once it is idle (src/cli/idle-gc.ts); nothing
 * without `--expose-gc`, which comes with the floor: from workerExecArgv (worker-flags.ts) for worker processes, as
 * V8 flags the main thread sets for worker threads (serve-threads.ts), from node's own flags for a single process
 * and for the main thread of `--worker-mode threads`.
 */
export async function collectWhenIdle(): Promise<void> {
  await startIdleGc(
    ({ before, after, ms }) =>
      loggers.serve.debug(
        {
          heldMB: Math.round(before / 2 ** 20),
          afterMB: Math.round(after / 2 ** 20),
          ms: Math.round(ms),
        },
        'idle: full GC',
      ),
    ({ ringBytes, packetBytes }) =>
      loggers.serve.debug(
        { ringMB: ringBytes / 2 ** 20, packetMB: +(packetBytes / 2 ** 20).toFixed(2) },
        'idle: kept rings and packet buffers given back',
      ),
  );
}
