// How a serving worker of `serve --workers N` talks to its primary, and the primary to its workers, whichever kind
// the workers are: cluster worker processes (node's IPC channel) or worker threads (MessagePorts, `--worker-mode
// threads`). The relays (metrics and sessions gathering, bandwidth leases, the live event feed) use these two views
// and do not know which kind they run over.
import cluster from 'node:cluster';

/**
 * A message handler. Messages come from our own processes and threads, each relay checking the `type` it owns;
 * `any` because node:cluster's Worker types its listeners so, and a narrower parameter would not accept theirs.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
type MessageListener = (message: any) => void;

/** A worker's channel to its primary. */
export interface PrimaryLink {
  /**
   * Sends `message`; `done` runs once it has left this worker (an IPC write flushed, a port message posted).
   * False when the channel is gone (then `done` never runs).
   */
  send(message: unknown, done?: () => void): boolean;
  /** Calls `listener` with every message from the primary until the returned function is called. */
  onMessage(listener: MessageListener): () => void;
}

/** A worker as its primary sees it: node:cluster's `Worker` has this shape, and `PortWorker` gives a thread it. */
export interface WorkerEnd {
  send(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: MessageListener): unknown;
  off(event: 'message', listener: MessageListener): unknown;
  isConnected(): boolean;
}

/** Set in a worker thread, and in the main thread of `--worker-mode threads` (which serves as well as supervises). */
let threadLink: PrimaryLink | undefined;
/** Set in the main thread of `--worker-mode threads`: its threads and its own serving part. */
let threadWorkers: (() => Iterable<WorkerEnd>) | undefined;

const processLink: PrimaryLink = {
  send: (message, done) => {
    if (!process.send) return false;
    process.send(message, undefined, undefined, done ? () => done() : undefined);
    return true;
  },
  onMessage(listener) {
    process.on('message', listener);
    return () => process.off('message', listener);
  },
};

/** This worker's channel to its primary; undefined in a process that is nobody's worker. */
export function primaryLink(): PrimaryLink | undefined {
  if (threadLink) return threadLink;
  return cluster.isWorker && process.send ? processLink : undefined;
}

/** Every worker of this primary now (the cluster's worker processes, or the threads and the main thread's part). */
export function workerEnds(): WorkerEnd[] {
  if (threadWorkers) return [...threadWorkers()];
  return Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
}

/** Makes this thread a worker thread of `--worker-mode threads` (and, with `workers`, the primary of them). */
export function useThreadLinks(link: PrimaryLink, workers?: () => Iterable<WorkerEnd>): void {
  threadLink = link;
  threadWorkers = workers;
}

/** What a port-like end offers: a MessagePort, or a worker_threads Worker seen from the main thread. */
interface PortLike {
  postMessage(message: unknown): void;
  on(event: 'message', listener: MessageListener): unknown;
  off(event: 'message', listener: MessageListener): unknown;
}

/** A worker's link over a port (`parentPort` in a thread, the main thread's loopback channel for its own part). */
export function portLink(port: PortLike): PrimaryLink {
  return {
    send(message, done) {
      port.postMessage(message);
      // A posted message is queued on the port: it has left this side.
      if (done) setImmediate(done);
      return true;
    },
    onMessage(listener) {
      port.on('message', listener);
      return () => port.off('message', listener);
    },
  };
}

/** A worker thread (or the main thread's own part) as its primary sees it; `close()` once it exited. */
export class PortWorker implements WorkerEnd {
  #connected = true;
  constructor(readonly port: PortLike) {}

  send(message: unknown, callback?: (error: Error | null) => void): boolean {
    if (!this.#connected) return false;
    try {
      this.port.postMessage(message);
    } catch (err) {
      // A message that cannot be cloned: the same failure an IPC send reports through its callback.
      if (callback) setImmediate(() => callback(err as Error));
      return false;
    }
    if (callback) setImmediate(() => callback(null));
    return true;
  }

  on(event: 'message', listener: MessageListener): this {
    this.port.on(event, listener);
    return this;
  }

  off(event: 'message', listener: MessageListener): this {
    this.port.off(event, listener);
    return this;
  }

  isConnected(): boolean {
    return this.#connected;
  }

  close(): void {
    this.#connected = false;
  }
}
