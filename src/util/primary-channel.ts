// A `serve --workers N` worker's IPC channel to its primary, as the worker's modules use it. A worker outlives a
// primary that died (kill -9, a crash): it drains its sessions (src/cli/serve.ts). After that, node turns every
// `process.send` without a callback into an 'error' event on `process`, an uncaught exception that would end the
// worker and cut the very sessions it is finishing; so every send here has a callback, and none is tried once the
// channel is closed.
import cluster from 'node:cluster';

/** Whether this process is a cluster worker whose primary is still connected. */
export function primaryConnected(): boolean {
  return cluster.isWorker && process.connected && process.send !== undefined;
}

/**
 * Sends `message` to the primary; false (and `done` with the error) when the channel is closed. `done` runs once the
 * message is on its way, or with the error that kept it back.
 */
export function sendToPrimary(message: unknown, done?: (err: Error | null) => void): boolean {
  if (!primaryConnected()) {
    if (done) queueMicrotask(() => done(new Error('the primary process is gone')));
    return false;
  }
  return process.send!(message, undefined, undefined, (err: Error | null) => done?.(err));
}

/** Calls `listener` once when the channel to the primary closes (at once when it is already closed). */
export function onPrimaryGone(listener: () => void): void {
  if (!cluster.isWorker) return;
  if (!process.connected) queueMicrotask(listener);
  else process.once('disconnect', listener);
}
