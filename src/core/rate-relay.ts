// Bandwidth buckets across the workers of `serve --workers N`: the primary holds them (a LocalTokenSource), the
// workers lease tokens from it over their channel to it (IPC, or a thread's port: util/worker-link.ts). A lease is at least a 20th of a second's worth, kept
// by the worker for at most 100 ms, so IPC stays at tens of messages a second per limited user however small the
// writes, and a worker never sits on tokens another one needs for longer than that.
import { primaryLink, type WorkerEnd } from '../util/worker-link.js';
import { LocalTokenSource, type TokenSource } from './shared-rates.js';

type RateMessage =
  | {
      readonly type: 'ferry-rate-take';
      readonly id: number;
      readonly key: string;
      readonly rate: number;
      readonly bytes: number;
    }
  | { readonly type: 'ferry-rate-granted'; readonly id: number };

const LEASE_FRACTION = 20;
const MIN_LEASE = 64 * 1024;
const LEASE_TTL_MS = 100;

/** The primary's buckets, shared by every worker it forked. */
let primaryBuckets: LocalTokenSource | undefined;

/** In the primary: answers a worker's lease request once its bucket allows it. True when `message` was one. */
export function serveRateRequests(worker: WorkerEnd, message: unknown): boolean {
  const m = message as RateMessage | undefined;
  if (m?.type !== 'ferry-rate-take') return false;
  primaryBuckets ??= new LocalTokenSource();
  primaryBuckets.take(m.key, m.rate, m.bytes).then(() => {
    if (worker.isConnected()) worker.send({ type: 'ferry-rate-granted', id: m.id } satisfies RateMessage);
  });
  return true;
}

/** In a worker: tokens leased from the primary. */
class LeasedTokenSource implements TokenSource {
  #next = 0;
  readonly #waiting = new Map<number, () => void>();
  /** Per key: tokens leased and not yet used, and when they came. */
  readonly #balance = new Map<string, { bytes: number; at: number }>();
  /** Per key: the takes in arrival order (a later small take must not pass an earlier one waiting for a lease). */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(private readonly send: (message: RateMessage) => void) {}

  granted(id: number): void {
    this.#waiting.get(id)?.();
    this.#waiting.delete(id);
  }

  take(key: string, rate: number, bytes: number, signal?: AbortSignal): Promise<void> {
    const id = `${key}\0${rate}`;
    const turn = (this.#queues.get(id) ?? Promise.resolve()).then(() =>
      this.#take(id, key, rate, bytes, signal),
    );
    const settled = turn.catch(() => {});
    this.#queues.set(id, settled);
    // The last in line clears the queue entry, so idle keys leave nothing behind.
    void settled.then(() => {
      if (this.#queues.get(id) === settled) this.#queues.delete(id);
    });
    return turn;
  }

  async #take(id: string, key: string, rate: number, bytes: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const now = performance.now();
    let held = this.#balance.get(id);
    if (held && now - held.at > LEASE_TTL_MS) held = undefined;
    const have = held?.bytes ?? 0;
    if (have >= bytes) {
      this.#balance.set(id, { bytes: have - bytes, at: held!.at });
      return;
    }
    const lease = Math.max(bytes - have, MIN_LEASE, rate / LEASE_FRACTION);
    await this.#lease(key, rate, lease, signal);
    this.#balance.set(id, { bytes: have + lease - bytes, at: performance.now() });
  }

  #lease(key: string, rate: number, bytes: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const requestId = ++this.#next;
      const onAbort = () => {
        // The primary still takes the tokens when their turn comes; they are lost to this worker, not to the limit.
        this.#waiting.delete(requestId);
        reject(signal?.reason);
      };
      this.#waiting.set(requestId, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send({ type: 'ferry-rate-take', id: requestId, key, rate, bytes });
    });
  }
}

/** The token source of this process: the primary's when it is a `serve` worker, its own otherwise. */
export function processTokenSource(): TokenSource {
  const link = primaryLink();
  if (!link) return new LocalTokenSource();
  const source = new LeasedTokenSource((message) => link.send(message));
  link.onMessage((message: RateMessage) => {
    if (message?.type === 'ferry-rate-granted') source.granted(message.id);
  });
  return source;
}
