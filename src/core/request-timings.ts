// Per-request durations a protocol server reports (SFTP's request table), passed on to whoever watches (the metrics).

/** Receives one request's type (its table row's name) and how long its handler ran. */
export type RequestTimingListener = (type: string, seconds: number) => void;

/**
 * Built before either end exists: the SSH server starts before the HTTP API that holds the metrics. An array,
 * not a Set, so the per-request call walks it without allocating an iterator.
 */
export class RequestTimings {
  #listeners: RequestTimingListener[] = [];

  requestDone(type: string, seconds: number): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) listeners[i]?.(type, seconds);
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: RequestTimingListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }
}
