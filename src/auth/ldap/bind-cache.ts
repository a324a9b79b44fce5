// Successful directory logins remembered for a short TTL, keyed by name, holding only a keyed hash of the password.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../../util/secret.js';

export interface CachedLogin {
  readonly dn: string;
  readonly groups: readonly string[];
}

interface Entry extends CachedLogin {
  readonly digest: Buffer;
  readonly expires: number;
}

/** More names than this evict the oldest: a flood of distinct successful logins cannot grow memory without bound. */
const MAX_ENTRIES = 10_000;

export class BindCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  // A per-process random key: the digests are worthless outside this process (no offline guessing from a dump).
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, Entry>();

  constructor(ttlSeconds: number, now: () => number = Date.now) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#now = now;
  }

  #digest(username: string, password: Secret<string>): Buffer {
    return createHmac('sha256', this.#key).update(username).update('\0').update(password.reveal()).digest();
  }

  /** The remembered login when the same password succeeded within the TTL; anything else asks the directory. */
  get(username: string, password: Secret<string>): CachedLogin | undefined {
    const entry = this.#entries.get(username);
    if (!entry) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(username);
      return undefined;
    }
    const digest = this.#digest(username, password);
    return timingSafeEqual(digest, entry.digest) ? { dn: entry.dn, groups: entry.groups } : undefined;
  }

  set(username: string, password: Secret<string>, login: CachedLogin): void {
    if (this.#ttlMs <= 0) return;
    this.#entries.delete(username);
    if (this.#entries.size >= MAX_ENTRIES) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(username, {
      ...login,
      digest: this.#digest(username, password),
      expires: this.#now() + this.#ttlMs,
    });
  }

  /** Forgets a name (its directory login failed: a changed password must not keep the old one working). */
  forget(username: string): void {
    this.#entries.delete(username);
  }

  get size(): number {
    return this.#entries.size;
  }
}
