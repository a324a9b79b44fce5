// Bandwidth limits that hold however many sessions a user opens: a user's rate is one token bucket per direction
// shared by all of the user's sessions (a limit per session times unlimited sessions is no limit), and the
// server-wide cap is one more bucket every session takes from. Buckets live in a `TokenSource`: this process's
// own (one-process serve, the CLI's rule sessions), or the primary's for every worker of `serve --workers N`
// (core/rate-relay.ts), so a user's sessions on different workers share one bucket too.
import { TokenBucket } from '../util/token-bucket.js';

/** What a file handle waits on before moving `bytes`. */
export interface Throttle {
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** Where the buckets are: `take` resolves once `bytes` may pass at `rate` for everyone sharing `key`. */
export interface TokenSource {
  take(key: string, rate: number, bytes: number, signal?: AbortSignal): Promise<void>;
}

export interface Rates {
  readonly upload: number;
  readonly download: number;
}

/** A bucket left alone this long is full again, and is dropped (a new one starts full). */
const IDLE_MS = 60_000;
const SWEEP_EVERY = 1024;

/** Buckets in this process, one per key, made on first use and dropped when idle. */
export class LocalTokenSource implements TokenSource {
  readonly #buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  #takes = 0;

  take(key: string, rate: number, bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    if (++this.#takes % SWEEP_EVERY === 0) this.#sweep(now);
    // The rate is part of the key: a changed limit starts its own bucket (sessions keep the one they began with).
    const id = `${key}\0${rate}`;
    let entry = this.#buckets.get(id);
    if (!entry) {
      entry = { bucket: new TokenBucket(rate), used: now };
      this.#buckets.set(id, entry);
    }
    entry.used = now;
    return entry.bucket.take(bytes, signal);
  }

  /** Buckets currently held (for tests). */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    for (const [id, entry] of this.#buckets) if (now - entry.used > IDLE_MS) this.#buckets.delete(id);
  }
}

/** Takes from each throttle in turn: the user's share first, then the server's. */
class Chain implements Throttle {
  constructor(private readonly links: readonly Throttle[]) {}
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (const link of this.links) await link.take(bytes, signal);
  }
}

/**
 * The throttles of one session of `username`: the user's rates (shared with the user's other sessions) and the
 * server-wide caps (shared with every session); undefined for a direction without either.
 */
export function sessionThrottles(
  source: TokenSource,
  username: string,
  user: Rates | undefined,
  server: Rates,
): { upload?: Throttle; download?: Throttle } | undefined {
  const direction = (name: keyof Rates): Throttle | undefined => {
    const links: Throttle[] = [];
    const own = user?.[name] ?? 0;
    if (own > 0) links.push({ take: (b, s) => source.take(`user\0${name}\0${username}`, own, b, s) });
    const all = server[name];
    if (all > 0) links.push({ take: (b, s) => source.take(`server\0${name}`, all, b, s) });
    if (links.length === 0) return undefined;
    return links.length === 1 ? links[0] : new Chain(links);
  };
  const upload = direction('upload');
  const download = direction('download');
  if (!upload && !download) return undefined;
  return { ...(upload ? { upload } : {}), ...(download ? { download } : {}) };
}
