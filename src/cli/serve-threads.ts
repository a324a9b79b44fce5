// `serve --workers N --worker-mode threads`: the workers as threads of one process. The main thread serves as the
// first worker and supervises the other N-1: they accept from its listening sockets (a copy each,
// util/shared-listen.ts), relay through it as worker processes relay through a primary (util/worker-link.ts), stop
// and reload when it does, and are restarted when one ends by itself. One process maps node and its libraries once,
// where a primary and N worker processes map them N+1 times (docs/PERFORMANCE.md, idle memory as worker threads).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { isMainThread, MessageChannel, parentPort, Worker, workerData } from 'node:worker_threads';
import type { FerryConfig } from '../config/schema.js';
import { loggers, rootLogger } from '../logger.js';
import type { RunningFerry } from '../server.js';
import { listenOnSharedSockets, noteSharedListeners } from '../util/shared-listen.js';
import { PortWorker, portLink, useThreadLinks, type WorkerEnd } from '../util/worker-link.js';
import type { HeldSignals } from './held-signals.js';
import { collectWhenIdle, describeListenError, serveRelays } from './serve-shared.js';
import { runUntilSignalled, type ThreadWorkers } from './serve-stop.js';
import { workerHeapDefaults } from './worker-flags.js';

/** A worker thread's start: where to listen, and the run it belongs to. */
interface ThreadStart {
  /** The main thread's listening descriptors, by listener name. */
  readonly fds: Readonly<Record<string, number>>;
  /** The main thread's run id: the threads register one node together (StartOptions.nodeRunId). */
  readonly nodeRunId: string;
}

/**
 * What a worker thread runs: `bin/ferry.js`, two levels up from this module in the sources and in dist/bundle/
 * alike. It runs the build, or the sources through tsx when they are newer, whichever way the main thread was
 * started (a thread started on src/main.ts would not have the tsx loader that `node --import tsx` gave the main one).
 */
const ENTRY = fileURLToPath(new URL('../../bin/ferry.js', import.meta.url));

/** How long after the main thread stopped the worker threads may take to stop before they are ended. */
const THREAD_STOP_GRACE_MS = 15_000;

/** workerData's key for it (a worker thread of anything else has no such key). */
const START_KEY = 'ferryServeThread';

type ThreadMessage =
  | { readonly type: 'ferry-thread-listening' }
  | { readonly type: 'ferry-thread-failed'; readonly message: string }
  | { readonly type: 'ferry-thread-signal'; readonly signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP' }
  // A stop's drain (StopHow.afterDrain): each thread says it drained, and closes its listeners once the main thread
  // says every thread did.
  | { readonly type: 'ferry-thread-drained' }
  | { readonly type: 'ferry-thread-close' };

/**
 * How long after a thread ended by itself another is started: 1 s, doubled for each thread in a row that ended
 * within RESTART_RESET_MS of its start (one that cannot start must not spin), up to a minute.
 */
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 60_000;
const RESTART_RESET_MS = 60_000;

/** This worker thread's start, when it is one of `serve --worker-mode threads`. */
export function serveThreadStart(): ThreadStart | undefined {
  if (isMainThread) return undefined;
  return (workerData as Record<string, ThreadStart | undefined> | null)?.[START_KEY];
}

const serverModule = () => import('../server.js');
const hardeningModule = () => import('./process-hardening.js');

/** A worker thread: starts the server on the main thread's sockets and runs until the main thread stops it. */
export async function runServeThread(
  config: FerryConfig,
  start: ThreadStart,
  held: HeldSignals,
): Promise<void> {
  const port = parentPort!;
  const post = (message: ThreadMessage) => port.postMessage(message);
  const { confine } = await import('../vfs/local/confine.js');
  if (confine.dup === undefined) {
    post({
      type: 'ferry-thread-failed',
      message: 'the confine addon predates --worker-mode threads; run npm ci',
    });
    process.exit(1);
  }
  listenOnSharedSockets(start.fds, confine.dup);
  useThreadLinks(portLink(port));
  let mayClose = () => {};
  const closing = new Promise<void>((resolve) => {
    mayClose = resolve;
  });
  // Signals reach only the main thread; it passes them on, and they run this thread's own handlers.
  port.on('message', (message: ThreadMessage) => {
    if (message?.type === 'ferry-thread-signal') process.emit(message.signal, message.signal);
    else if (message?.type === 'ferry-thread-close') mayClose();
  });
  let running: RunningFerry;
  try {
    running = await (await serverModule()).startFerry(config, () => {}, 'write', {
      nodeRunId: start.nodeRunId,
    });
  } catch (err) {
    post({ type: 'ferry-thread-failed', message: describeListenError(err, config) });
    process.exit(1);
  }
  post({ type: 'ferry-thread-listening' });
  runUntilSignalled(running, held, {
    afterDrain: () => {
      post({ type: 'ferry-thread-drained' });
      return closing;
    },
  });
  await collectWhenIdle();
}

/** One worker thread as the main thread keeps it. */
interface Thread {
  readonly worker: Worker;
  readonly end: PortWorker;
}

/**
 * The main thread: starts its own server first (the first-run work, the listeners), then the other threads on its
 * sockets, hardens the process once they all listen (Landlock and dropping root cover every thread), prints the
 * start-up lines, and runs until signalled.
 */
export async function runThreadsMain(
  config: FerryConfig,
  count: number,
  out: (line: string) => void,
  held: HeldSignals,
): Promise<void> {
  rootLogger.level = config.logLevel;
  // libuv accepts every connection waiting on a socket at each wake-up: with one socket shared by several event
  // loops, a burst of connections went to whichever woke first (80 of 80 sessions in 6 bursts of 8). One per
  // wake-up shares them. libuv reads it when a loop first accepts, so it is set before anything listens.
  process.env.UV_TCP_SINGLE_ACCEPT ??= '1';
  const fds = noteSharedListeners();
  const nodeRunId = randomUUID();
  const threads = new Set<Thread>();
  // The main thread's own server is one of the workers: it reaches the relays below over a port pair of its own.
  const own = new MessageChannel();
  const ownEnd = new PortWorker(own.port1);
  useThreadLinks(portLink(own.port2), () => [ownEnd, ...[...threads].map((t) => t.end)]);
  const relay = (end: WorkerEnd) => (message: unknown) => serveRelays(end, message);
  own.port1.on('message', relay(ownEnd));
  // The ports would keep the process alive after the server stopped; its exit is runUntilSignalled's.
  own.port1.unref();
  own.port2.unref();

  const hardening = await hardeningModule();
  const lines = [hardening.chooseConfinement(config)];
  const started: string[] = [];
  let running: RunningFerry;
  try {
    running = await (await serverModule()).startFerry(config, (line) => started.push(line), 'create', {
      nodeRunId,
    });
  } catch (err) {
    process.stderr.write(`ferry: ${describeListenError(err, config)}\n`);
    process.exit(1);
  }

  let stopping = false;
  let announced = false;
  const ended: (() => void)[] = [];
  /** The threads that drained (ferry-thread-drained), and what waits for all of them. */
  const drained = new Set<Thread>();
  const whenAllDrained: (() => void)[] = [];
  const checkDrained = () => {
    if ([...threads].every((t) => drained.has(t))) for (const done of whenAllDrained.splice(0)) done();
  };
  const fail = (message: string) => {
    process.stderr.write(`ferry: ${message}\n`);
    process.exit(1);
  };
  /** Threads in a row that ended soon after their start. */
  let shortLived = 0;
  const startThread = (): Promise<void> =>
    new Promise((listening) => {
      const startedAt = performance.now();
      const worker = new Worker(ENTRY, {
        argv: process.argv.slice(2),
        workerData: { [START_KEY]: { fds: Object.fromEntries(fds), nodeRunId } satisfies ThreadStart },
      });
      const thread: Thread = { worker, end: new PortWorker(worker) };
      // Read now: a Worker's threadId is -1 once it exited.
      const threadId = worker.threadId;
      threads.add(thread);
      const onRelay = relay(thread.end);
      worker.on('message', (message: ThreadMessage) => {
        if (message?.type === 'ferry-thread-listening') listening();
        else if (message?.type === 'ferry-thread-drained') {
          drained.add(thread);
          checkDrained();
        } else if (message?.type === 'ferry-thread-failed') {
          if (!announced) fail(message.message);
          else loggers.serve.error({ reason: message.message }, 'a worker thread could not start');
        } else onRelay(message);
      });
      worker.on('error', (err) => loggers.serve.error({ err, threadId }, 'worker thread failed'));
      worker.on('exit', (code) => {
        thread.end.close();
        threads.delete(thread);
        drained.delete(thread);
        checkDrained();
        if (stopping) {
          if (threads.size === 0) for (const done of ended.splice(0)) done();
          return;
        }
        if (!announced) fail(`a worker thread exited during start-up (code ${code}); see the log above`);
        shortLived = performance.now() - startedAt < RESTART_RESET_MS ? shortLived + 1 : 0;
        const delayMs = Math.min(RESTART_DELAY_MS * 2 ** Math.max(0, shortLived - 1), RESTART_DELAY_MAX_MS);
        loggers.serve.error({ threadId, code, delayMs }, 'worker thread ended; starting another');
        setTimeout(() => {
          if (!stopping) void startThread();
        }, delayMs).unref();
      });
    });
  // The heap sizes worker processes get (worker-flags.ts), for the threads' isolates (not this one's: it has started).
  for (const flag of workerHeapDefaults()) setFlagsFromString(flag);
  await Promise.all(Array.from({ length: count - 1 }, startThread));

  // Never serve unhardened: a failure here is a failed start, and the exit ends every thread.
  let hardened: Awaited<ReturnType<typeof hardening.hardenServingProcess>>;
  try {
    hardened = await hardening.hardenServingProcess(running);
  } catch (err) {
    fail(describeListenError(err, config));
    return;
  }
  announced = true;
  // In the order a primary prints them: the first-run lines, the hardening, then the listeners.
  const sftpAt = started.findIndex((line) => line.startsWith('SFTP listening on '));
  for (const line of [...lines, ...started.slice(0, sftpAt), ...hardened.lines]) out(line);
  out(
    `SFTP listening on ${config.listen}:${running.port} (${count} worker threads, data dir ${config.dataDir})`,
  );
  for (const line of started.slice(sftpAt + 1)) out(line);
  hardening.watchHardeningCoverage(running, hardened, (paths) =>
    loggers.serve.warn(
      { paths },
      "landlock: directories added since the start are out of this process's reach until the server restarts (worker threads share one process; --worker-mode processes replaces its workers by itself)",
    ),
  );
  const workers: ThreadWorkers = {
    forward(signal) {
      if (signal !== 'SIGHUP') stopping = true;
      for (const { worker } of threads)
        worker.postMessage({ type: 'ferry-thread-signal', signal } satisfies ThreadMessage);
    },
    ended: () =>
      new Promise((done) => {
        if (threads.size === 0) return done();
        ended.push(done);
        // Every thread drained as long as this one did (drainTimeout, from the same signal): one still running
        // well after that is stuck, and would hold the process for ever.
        setTimeout(() => {
          for (const { worker } of threads) {
            loggers.serve.error({ threadId: worker.threadId }, 'a worker thread did not stop; ending it');
            void worker.terminate();
          }
        }, THREAD_STOP_GRACE_MS).unref();
      }),
  };
  // The main thread's own listeners close once every thread drained, then each thread's: a thread whose last
  // transfer ended would otherwise close its copy of the HTTP socket, and reset a /readyz it had just accepted,
  // while the others still answer 503. One still draining well after this one is stuck: it is not waited for.
  const afterDrain = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, THREAD_STOP_GRACE_MS);
      whenAllDrained.push(() => {
        clearTimeout(timer);
        resolve();
      });
      checkDrained();
    }).then(() => {
      for (const { worker } of threads)
        worker.postMessage({ type: 'ferry-thread-close' } satisfies ThreadMessage);
    });
  runUntilSignalled(running, held, { threads: workers, afterDrain });
  await collectWhenIdle();
}
