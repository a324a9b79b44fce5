// Keys about to expire: found daily by every serving process, so an operator hears of it before partners fail.
import type { Logger } from '../logger.js';
import type { PgpKeyRecord } from '../store/types.js';

const DAY_MS = 86_400_000;

export interface ExpiringKey {
  readonly key: PgpKeyRecord;
  /** Whole days left (0: expires within a day; expired keys are not reported again and again). */
  readonly daysLeft: number;
}

/** The keys that expire within `warningDays` of `now` and have not expired yet. */
export function expiringKeys(keys: readonly PgpKeyRecord[], now: Date, warningDays: number): ExpiringKey[] {
  const found: ExpiringKey[] = [];
  for (const key of keys) {
    if (!key.expiresAt) continue;
    const leftMs = key.expiresAt.getTime() - now.getTime();
    if (leftMs <= 0 || leftMs > warningDays * DAY_MS) continue;
    found.push({ key, daysLeft: Math.floor(leftMs / DAY_MS) });
  }
  return found;
}

/**
 * Checks now and every `intervalMs` (default a day); `onExpiring` is called for each key found. Every serving
 * process runs it: the event's deliveries are deduplicated by the key and the day (automation/outbox.ts).
 * Returns the stop function.
 */
export function watchKeyExpiry(options: {
  readonly list: () => Promise<PgpKeyRecord[]>;
  readonly warningDays: number;
  readonly onExpiring: (found: ExpiringKey) => void;
  readonly log: Logger;
  readonly intervalMs?: number;
  readonly now?: () => Date;
  /** The first check waits for it. */
  readonly after?: Promise<unknown>;
}): () => void {
  const now = options.now ?? (() => new Date());
  const check = async () => {
    try {
      for (const found of expiringKeys(await options.list(), now(), options.warningDays)) {
        options.log.warn(
          { key: found.key.name, fingerprint: found.key.fingerprint, daysLeft: found.daysLeft },
          'OpenPGP key expires soon',
        );
        options.onExpiring(found);
      }
    } catch (err) {
      options.log.error({ err }, 'cannot check keys for expiry');
    }
  };
  void (options.after ?? Promise.resolve()).then(check);
  const timer = setInterval(() => void check(), options.intervalMs ?? DAY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
