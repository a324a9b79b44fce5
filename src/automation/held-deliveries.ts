// Deliveries the outbox handed to this process's worker, held until they may start: the gather window, then for as
// long as this process's clients are transferring (at most `rules.yieldToTransfersSeconds`).
import { performance } from 'node:perf_hooks';
import type { TransferGauge } from '../core/active-transfers.js';
import type { DeliveryRecord } from './types.js';

/** A client whose last file closed this recently is still transferring: a batch's next OPEN is ~1 ms away. */
export const TRANSFER_QUIET_MS = 250;
/** How often held deliveries look again whether the transfers paused. */
const RECHECK_MS = 100;
/** Deliveries one process holds at most while its clients transfer; the outbox leaves more pending for anyone. */
export const MAX_HELD = 1000;

export interface HeldDeliveriesOptions {
  /** How long handed deliveries wait for company before they start (the worker's gather window). */
  readonly gatherMs: number;
  /** Longest a held delivery waits for this process's transfers to pause; 0: it never waits for them. */
  readonly yieldMs: number;
  /** This process's client transfers; absent: deliveries never wait for them. */
  readonly transfers?: TransferGauge | undefined;
  /** Starts a delivery; false when no slot is free (it stays held until `slotFreed`). */
  readonly start: (delivery: DeliveryRecord) => boolean;
  readonly now?: () => number;
}

/** Whether actions wait now: yielding is on and this process's clients are transferring (or just were). */
function transferring(transfers: TransferGauge | undefined, yieldMs: number): boolean {
  return yieldMs > 0 && transfers !== undefined && transfers.quietMs() < TRANSFER_QUIET_MS;
}

/**
 * Resolves once this process's client transfers have paused (no file open, none closed within TRANSFER_QUIET_MS),
 * or after `yieldMs` at most; at once without a gauge or with `yieldMs` 0. For work that starts on a timer rather
 * than from the worker's queue (a digest mail's window ending), which would otherwise land amid the transfers.
 */
export function transfersPaused(transfers: TransferGauge | undefined, yieldMs: number): Promise<void> {
  const until = performance.now() + yieldMs;
  return new Promise((resolve) => {
    const look = () => {
      if (!transferring(transfers, yieldMs) || performance.now() >= until) resolve();
      else setTimeout(look, RECHECK_MS);
    };
    look();
  });
}

/**
 * On a machine whose cores the transfers fill, every millisecond a rule action takes comes off them, so actions of
 * a burst of uploads wait until the burst's transfers pause, and run then (or once the oldest has waited
 * `yieldMs`, so sustained transfers delay them by at most that). They stay claimed meanwhile, under leases the
 * worker renews: a crash hands them to another process when the leases end, as for running ones.
 */
export class HeldDeliveries {
  readonly #o: HeldDeliveriesOptions;
  readonly #now: () => number;
  readonly #held = new Map<string, DeliveryRecord>();
  /** When the oldest delivery now held arrived. */
  #since = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeldDeliveriesOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#held.size;
  }

  ids(): string[] {
    return [...this.#held.keys()];
  }

  /** Whether this process's clients are transferring now and deliveries wait for them. */
  get yielding(): boolean {
    return transferring(this.#o.transfers, this.#o.yieldMs);
  }

  /** How many more the outbox may hand over while the transfers go on (beyond the worker's free slots). */
  get room(): number {
    return this.yielding ? Math.max(0, MAX_HELD - this.#held.size) : 0;
  }

  add(claimed: readonly DeliveryRecord[]): void {
    if (claimed.length === 0) return;
    if (this.#held.size === 0) this.#since = this.#now();
    for (const delivery of claimed) this.#held.set(delivery.id, delivery);
    this.#timer ??= setTimeout(() => this.drain(), this.#o.gatherMs);
  }

  /** Starts what may start now, as many as have slots; looks again later while the transfers hold the rest. */
  drain(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held.size === 0) return;
    if (this.yielding && this.#now() - this.#since < this.#o.yieldMs) {
      this.#timer = setTimeout(() => this.drain(), RECHECK_MS);
      return;
    }
    for (const [id, delivery] of this.#held) {
      if (!this.#o.start(delivery)) break;
      this.#held.delete(id);
    }
    // The rest start as slots free (the worker calls slotFreed after each delivery); the next arrival waits anew.
    if (this.#held.size === 0) this.#since = 0;
  }

  /**
   * A running delivery ended: held ones waiting only for a slot start now. Those within their gather window, or
   * waiting for the transfers, keep their timer.
   */
  slotFreed(): void {
    if (this.#timer === undefined) this.drain();
  }

  /** Starts what has slots now, whatever the transfers do, and gives back the rest (a stop). */
  takeRest(): DeliveryRecord[] {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [id, delivery] of this.#held) {
      if (!this.#o.start(delivery)) break;
      this.#held.delete(id);
    }
    const rest = [...this.#held.values()];
    this.#held.clear();
    return rest;
  }
}
