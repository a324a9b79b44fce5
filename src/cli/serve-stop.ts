// How a serving process (a single one, or a worker of `serve --workers N`) comes to stop: SIGTERM/SIGINT (those held
// during its start-up first), its parent going away, or its primary retiring it; SIGHUP re-reads host keys.
import cluster from 'node:cluster';
import { loggers } from '../logger.js';
import type { RunningFerry } from '../server.js';
import type { HeldSignals } from './held-signals.js';
import { RETIRE_MESSAGE } from './worker-renewal.js';

const PARENT_POLL_MS = 1000;
/** The parent this process started under, read at load: one that is gone before `watchParent` is called still counts. */
const STARTING_PARENT = process.ppid;

/** The stop reason of a single serving process whose parent went (the `npm start` that ran it). */
const PARENT_GONE = 'parent exited';

/** The stop reason of a worker its primary replaced with one whose Landlock rules reach new directories. */
const RETIRED = 'replaced by a worker that reaches directories added since the start';

/**
 * Calls `onGone` when the process that started this one exits: `npm start` does not pass SIGTERM on, so a
 * server under a killed npm would otherwise run on as an orphan; such a process sees its parent id change (it was
 * re-parented). A cluster worker hears its primary's IPC channel close; when the primary did not ask for that (it
 * was killed), node's cluster module ends the worker at once instead, so a primary killed with SIGKILL takes its
 * workers with it, as an operator who sent it expects (a primary that stops by itself sends them SIGTERM, which
 * drains).
 */
export function watchParent(onGone: () => void): void {
  if (cluster.isWorker) {
    process.once('disconnect', onGone);
    return;
  }
  const timer = setInterval(() => {
    if (process.ppid !== STARTING_PARENT) {
      clearInterval(timer);
      onGone();
    }
  }, PARENT_POLL_MS);
  timer.unref();
}

/** The worker threads a serving main thread stops with itself (`--worker-mode threads`, serve-threads.ts). */
export interface ThreadWorkers {
  /** Passes a stop or reload on to every thread. */
  forward(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP'): void;
  /** Resolves once every thread has ended; the process exits after it (an exit ends every thread at once). */
  ended(): Promise<void>;
}

/** What a serving thread shares with the others of its process (`--worker-mode threads`). */
export interface ThreadPeers {
  /** The main thread's: the threads it stops with itself. */
  readonly threads?: ThreadWorkers;
  /** Resolves when every thread of the process has drained, so this one may close its listeners (StopHow). */
  readonly afterDrain?: () => Promise<void>;
}

/**
 * Runs until SIGINT/SIGTERM or until the parent process goes; SIGHUP re-reads host keys; the signals `held` during
 * start-up first. Used by a single process, by each worker, and by the threads of `--worker-mode threads`: the main
 * one passes each signal on to its `threads` and exits once they all ended.
 */
export function runUntilSignalled(running: RunningFerry, held: HeldSignals, peers: ThreadPeers = {}): void {
  const { threads, afterDrain } = peers;
  const shutdown = new AbortController();
  let retired = false;
  const stop = (signal: string) => {
    // SIGINT ends a drain in progress (the operator does not want to wait). A repeated SIGTERM does not: under
    // systemd a worker gets one from the service manager and one from its primary. A worker draining for a
    // renewal has no deadline: the service stopping (SIGTERM, which its primary passes on) gives it drainTimeout.
    if (shutdown.signal.aborted) {
      if (signal === 'SIGINT') {
        threads?.forward('SIGINT');
        void running.stop(signal);
      } else if (retired && signal !== RETIRED) {
        retired = false;
        setTimeout(() => void running.stop(signal), running.config.drainTimeout * 1000);
      }
      return;
    }
    retired = signal === RETIRED;
    shutdown.abort();
    loggers.serve.info({ signal }, 'shutting down');
    // SIGTERM (systemd, Kubernetes, a cluster primary) drains: transfers in flight finish first; so does a process
    // whose parent went (a killed npm: the same stop as the primary of --workers N gives its workers), and a worker
    // its primary replaced (worker-renewal.ts), whose HTTP API closes at once: its successor already listens.
    const drain = signal === 'SIGTERM' || signal === PARENT_GONE || retired;
    threads?.forward(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    running
      .stop(signal, { drain, replaced: retired, afterDrain })
      .then(() => threads?.ended())
      .then(
        () => {
          loggers.serve.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          loggers.serve.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  const reload = () => {
    threads?.forward('SIGHUP');
    return running.reloadHostKeys().then(
      (changed) => loggers.serve.info({ changed }, 'SIGHUP: host keys re-read'),
      (err: unknown) => loggers.serve.error({ err }, 'SIGHUP: host key reload failed'),
    );
  };
  process.on('message', (message: { type?: unknown } | undefined) => {
    if (message?.type === RETIRE_MESSAGE.type) stop(RETIRED);
  });
  watchParent(() => stop(PARENT_GONE));
  held.release({ SIGTERM: () => stop('SIGTERM'), SIGINT: () => stop('SIGINT'), SIGHUP: reload });
}
