// Deliveries of a busy worker go to an idle sibling. Under `serve --workers N` the process serving a fast transfer
// also ran every delivery its uploads caused, on the same event loop, while its siblings idled (issue 15's bench:
// ~5 ms of CPU per upload taken off the transfer). A busy process now stores its deliveries unclaimed and asks the
// other workers, through the primary, to claim them; its own poll still claims whatever nobody took, so a
// delivery never waits on a sibling that is gone, full or busy too.
import cluster, { type Worker } from 'node:cluster';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';

/** What the delivery worker asks before it claims for itself. */
export interface HandOff {
  /** True while this process is too busy to run deliveries itself. */
  busy(): boolean;
  /** Asks the sibling processes to claim due deliveries now. */
  offer(): void;
}

type DueMessage =
  | { readonly type: 'ferry-deliveries-due' }
  | { readonly type: 'ferry-deliveries-due-relayed' };

/**
 * Event-loop utilisation over the last window of at least `windowMs`, read when asked (the outbox asks once per
 * stored batch, so a process serving transfers reads a fresh window). A process that was idle for a long time
 * reads its long average: low, which is right for it.
 */
export class LoadGauge {
  readonly #threshold: number;
  readonly #windowMs: number;
  #mark: EventLoopUtilization = performance.eventLoopUtilization();
  #markAt = performance.now();
  #value = 0;

  constructor(threshold = 0.5, windowMs = 200) {
    this.#threshold = threshold;
    this.#windowMs = windowMs;
  }

  /** The utilisation (0–1) of the last complete window. */
  get utilization(): number {
    const at = performance.now();
    if (at - this.#markAt >= this.#windowMs) {
      const mark = performance.eventLoopUtilization();
      this.#value = performance.eventLoopUtilization(mark, this.#mark).utilization;
      this.#mark = mark;
      this.#markAt = at;
    }
    return this.#value;
  }

  busy(): boolean {
    return this.utilization >= this.#threshold;
  }
}

/** Offers sent at most this often: a burst of uploads asks the siblings once per window, not once each. */
const OFFER_EVERY_MS = 50;

/** The utilisation from which a worker hands off: `FERRY_RULES_HANDOFF_LOAD` (0–1, default 0.5; 0 always, 1 never). */
export function handOffLoad(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.FERRY_RULES_HANDOFF_LOAD);
  return env.FERRY_RULES_HANDOFF_LOAD !== undefined && value >= 0 && value <= 1 ? value : 0.5;
}

/**
 * In a worker of `serve --workers N` (N > 1; the primary forks workers only then): the hand-off over the IPC pipe,
 * and `claimNow` called when a sibling offers. Undefined in a single process, where nobody else could run them.
 */
export function clusterHandOff(
  claimNow: () => void,
  load = handOffLoad(),
): { handOff: HandOff; stop(): void } | undefined {
  if (!cluster.isWorker || !process.send || load >= 1) return undefined;
  const gauge = new LoadGauge(load);
  let lastOffer = Number.NEGATIVE_INFINITY;
  const onMessage = (message: DueMessage) => {
    if (message?.type === 'ferry-deliveries-due-relayed') claimNow();
  };
  process.on('message', onMessage);
  return {
    handOff: {
      busy: () => gauge.busy(),
      offer: () => {
        const at = performance.now();
        if (at - lastOffer < OFFER_EVERY_MS) return;
        lastOffer = at;
        process.send?.({ type: 'ferry-deliveries-due' } satisfies DueMessage);
      },
    },
    stop: () => process.off('message', onMessage),
  };
}

/**
 * In the primary: passes a worker's offer to every other connected worker. Returns false for any other message.
 * The offer carries nothing: each sibling claims from the store, which decides who gets which delivery.
 */
export function relayDeliveriesDue(
  from: Worker,
  message: unknown,
  workers: readonly (Worker | undefined)[] = Object.values(cluster.workers ?? {}),
): boolean {
  if ((message as DueMessage | undefined)?.type !== 'ferry-deliveries-due') return false;
  for (const worker of workers) {
    if (!worker || worker === from || !worker.isConnected()) continue;
    worker.send({ type: 'ferry-deliveries-due-relayed' } satisfies DueMessage);
  }
  return true;
}
