// A draining listener's wait for its open connections to end, bounded by the drain timeout and a cut signal.

export interface DrainOptions {
  /** Connections open now. */
  readonly open: () => number;
  /** Resolves once the listener is closed and its last connection (with its session's end) is gone. */
  readonly ended: Promise<void>;
  /** Undefined: no deadline (a worker replaced by a renewal, until it is told to stop). */
  readonly timeoutMs: number | undefined;
  /** Aborted to cut the wait short (SIGINT during a drain). */
  readonly signal?: AbortSignal | undefined;
  /** The server's logger (pino's fits; util/ imports nothing). */
  readonly logger: DrainLog;
}

export interface DrainLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** True when every connection ended in time; false when the deadline or the signal came first. */
export async function drainConnections(o: DrainOptions): Promise<boolean> {
  const drained = o.ended.then(() => true);
  if (o.open() === 0) return drained;
  o.logger.info(
    { connections: o.open(), timeoutMs: o.timeoutMs },
    'draining: waiting for open connections to end',
  );
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  const cut = new Promise<boolean>((resolve) => {
    if (o.timeoutMs !== undefined) timer = setTimeout(() => resolve(false), o.timeoutMs);
    onAbort = () => resolve(false);
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
  const ended = await Promise.race([drained, cut]);
  clearTimeout(timer);
  o.signal?.removeEventListener('abort', onAbort);
  if (ended) o.logger.info({}, 'drained: every connection ended');
  else o.logger.warn({ connections: o.open() }, 'drain cut short; closing the connections left');
  return ended;
}

/**
 * Resolves when every set is empty: a listener's sockets and sessions leave theirs in their 'close' events, which
 * come after net.Server's close callback (polled: only a stopping server waits here).
 */
export async function whenEmpty(...sets: readonly { readonly size: number }[]): Promise<void> {
  while (sets.some((set) => set.size > 0)) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Anything with net.Server's close(callback); util/ imports nothing, node:net's type included. */
export interface Closable {
  close(callback: () => void): unknown;
}

const closing = new WeakMap<Closable, Promise<void>>();

/**
 * Closes a listener once and shares the promise of its end (its callback runs when its last connection closed): a
 * second close() of a closed net.Server would wait for a 'close' event already past.
 */
export function closeOnce(server: Closable): Promise<void> {
  let closed = closing.get(server);
  if (!closed) {
    closed = new Promise<void>((resolve) => server.close(() => resolve()));
    closing.set(server, closed);
  }
  return closed;
}
