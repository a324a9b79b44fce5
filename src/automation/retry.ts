// How often and when a failed delivery is tried again, and what a process calls itself in delivery leases.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export const DEFAULT_MAX_ATTEMPTS = 8;

export interface RetryPolicy {
  /** Delay before the second attempt; it doubles with each further one (default 1000 ms). */
  readonly baseMs: number;
  /** Longest delay between attempts (default 10 min). */
  readonly capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, capMs: 600_000 };

/** Exponential backoff with jitter: the n-th retry waits between half and all of min(cap, base·2^(n-1)). */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const full = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + (random() * full) / 2);
}

/** What a process calls itself in leases: host, pid and a random part (a restarted pid is another owner). */
export function leaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}
