// Group commit for finished attempts: the outcomes of deliveries that end close together are recorded in one transaction.
import type { Logger } from '../logger.js';
import type { DeliveryFinish, DeliveryRepository } from './types.js';

interface Waiting {
  readonly item: DeliveryFinish;
  readonly resolve: (held: boolean) => void;
  readonly reject: (err: unknown) => void;
}

export class FinishQueue {
  readonly #deliveries: DeliveryRepository;
  readonly #owner: string;
  readonly #log: Logger;
  readonly #delayMs: number;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  /** Stopping: outcomes are recorded at once, not after the delay (a stop would otherwise wait it out). */
  #hurried = false;

  constructor(options: {
    readonly deliveries: DeliveryRepository;
    readonly owner: string;
    readonly log: Logger;
    /** Longest an outcome waits for company (default 2 ms). */
    readonly delayMs?: number;
    readonly maxBatch?: number;
  }) {
    this.#deliveries = options.deliveries;
    this.#owner = options.owner;
    this.#log = options.log;
    this.#delayMs = options.delayMs ?? 2;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 64);
  }

  /** Resolves once recorded: true while this process still held the lease (the state moved). */
  push(item: DeliveryFinish): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length >= this.#maxBatch || this.#hurried) void this.flush();
      else if (!this.#timer && !this.#draining) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.#drain();
        }, this.#delayMs);
      }
    });
  }

  /** From now on each outcome is recorded without waiting for company; what waits is recorded now. */
  hurry(): Promise<void> {
    this.#hurried = true;
    return this.flush();
  }

  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#drain();
  }

  #drain(): Promise<void> {
    if (this.#draining || this.#queue.length === 0) return this.#draining ?? Promise.resolve();
    const run = async () => {
      await undefined;
      try {
        // Outcomes that arrive while a batch commits join the next one.
        while (this.#queue.length > 0) await this.#commit(this.#queue.splice(0, this.#maxBatch));
      } finally {
        this.#draining = undefined;
      }
    };
    this.#draining = run();
    return this.#draining;
  }

  async #commit(batch: readonly Waiting[]): Promise<void> {
    try {
      const held = new Set(
        await this.#deliveries.finishMany(
          this.#owner,
          batch.map((w) => w.item),
        ),
      );
      for (const w of batch) w.resolve(held.has(w.item.id));
    } catch (err) {
      this.#log.debug({ err, deliveries: batch.length }, 'delivery outcomes not recorded');
      for (const w of batch) w.reject(err);
    }
  }
}
