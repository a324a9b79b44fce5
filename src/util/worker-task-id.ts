// Which serving worker this is, as the kernel knows it. Its own module, without node:cluster or node:worker_threads
// (~8 ms to load), because the logger reads it in every command.
import { readlinkSync } from 'node:fs';

/**
 * The calling thread's kernel id: the process id in a process's main thread, a worker thread's own id in a worker
 * thread of `serve --worker-mode threads` (Linux: in the same number space; `kill(id, 0)` finds it while it lives).
 * The node registry and the status list each serving worker by it, so two threads of one process do not take each
 * other's row; read once, when the thread loads this module.
 */
export const workerTaskId: number = (() => {
  try {
    // "PID/task/TID"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : process.pid;
  } catch {
    return process.pid;
  }
})();

/** True in a worker thread (its id is not the process's). */
export const inWorkerThread = workerTaskId !== process.pid;
