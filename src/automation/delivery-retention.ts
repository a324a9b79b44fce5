// The delivery history's retention: finished deliveries (succeeded or dead) and their attempts are deleted once
// older than `rules.deliveryRetentionDays`, so the outbox's tables do not grow with every upload for ever.
import type { Logger } from '../logger.js';
import type { DeliveryRepository } from './types.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows deleted per transaction: a few milliseconds of the write lock, which uploads' commits wait for. */
const BATCH = 500;
/** Between two batches of one sweep, so the serving connection's other writers go first. */
const PAUSE_MS = 50;

export interface DeliveryRetentionOptions {
  readonly deliveries: Pick<DeliveryRepository, 'prune'>;
  /** Days a finished delivery is kept (more than 0). */
  readonly days: number;
  readonly log: Logger;
  /** Time between sweeps (default one hour); the first runs at once. */
  readonly everyMs?: number;
  readonly batch?: number;
  readonly now?: () => Date;
}

export interface DeliveryRetention {
  /** Runs one sweep now (the timer's work); resolves with how many deliveries it deleted. */
  sweep(): Promise<number>;
  /** Stops the timer and ends a sweep in progress after its current batch. */
  stop(): Promise<void>;
}

/**
 * Sweeps at once and then every `everyMs`, in batches until none is left. Every serving process sweeps: their
 * deletes do not collide (a row one deleted is not there for the other), and a stopped process misses nothing.
 */
export function startDeliveryRetention(options: DeliveryRetentionOptions): DeliveryRetention {
  const batch = options.batch ?? BATCH;
  const now = options.now ?? (() => new Date());
  let stopped = false;
  let running: Promise<number> | undefined;

  const sweepOnce = async (): Promise<number> => {
    const cutOff = new Date(now().getTime() - options.days * DAY_MS);
    let deleted = 0;
    for (;;) {
      const n = await options.deliveries.prune(cutOff, batch);
      deleted += n;
      if (n < batch || stopped) break;
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
    if (deleted > 0)
      options.log.info({ deleted, finishedBefore: cutOff, days: options.days }, 'rule deliveries pruned');
    return deleted;
  };
  const sweep = (): Promise<number> => {
    running ??= sweepOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const run = () => {
    sweep().catch((err: unknown) => options.log.error({ err }, 'rule delivery retention failed'));
  };
  const timer = setInterval(run, options.everyMs ?? 60 * 60 * 1000);
  timer.unref();
  run();
  return {
    sweep,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
