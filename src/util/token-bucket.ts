// A token bucket for bandwidth limits: bytes are taken in arrival order, and a taker waits until the rate allows them.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `rate` bytes per second with up to `burst` bytes saved up while idle (default: a tenth of a second's worth,
 * at least 64 KiB), so a 10 s transfer runs within a few percent of the rate. A take larger than what is saved
 * runs into debt and waits it off, so any chunk size works. Takes are served first come, first served.
 */
export class TokenBucket {
  readonly rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;
  #queue: Promise<void> = Promise.resolve();

  constructor(rate: number, options: { burst?: number; now?: () => number } = {}) {
    if (!(rate > 0)) throw new RangeError('rate must be positive');
    this.rate = rate;
    this.#burst = options.burst ?? Math.max(rate / 10, 64 * 1024);
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#at = this.#now();
  }

  /** Resolves once `bytes` may pass; rejects (AbortError) if `signal` aborts while waiting. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    const turn = this.#queue.then(() => this.#wait(bytes, signal));
    // A taker that was aborted must not hold up the ones behind it.
    this.#queue = turn.catch(() => {});
    return turn;
  }

  async #wait(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    this.#tokens -= bytes;
    if (this.#tokens < 0) await sleep((-this.#tokens / this.rate) * 1000, undefined, { signal });
  }
}
