// Group commit: items queued while a batch commits (or within a short delay) go into the next batch, so one
// transaction carries many callers. The audit writer and the rules outbox both write this way.
// With no delay (the default), an idle queue commits on the next turn of the event loop: a lone caller (one
// client uploading small files one after another) waits for its own commit only, never for a timer, and under
// load batches still form, from what arrives while the previous batch commits.

export interface GroupCommitOptions<T> {
  /** Longest an item waits for company before its batch is committed; 0: until the event loop's next turn. */
  readonly flushDelayMs: number;
  /** A batch is committed at once when the queued weight reaches this; a batch never holds more, but one item. */
  readonly maxBatch: number;
  /** What an item counts toward maxBatch (default 1: an outbox event counts its rows). */
  readonly weight?: (item: T) => number;
  /** Commits one batch; it settles its items' callers itself. Batches run one after another. */
  readonly commit: (batch: T[]) => Promise<void>;
}

export class GroupCommit<T> {
  readonly #o: GroupCommitOptions<T>;
  readonly #weight: (item: T) => number;
  #queue: T[] = [];
  #queuedWeight = 0;
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  #draining: Promise<void> | undefined;

  constructor(options: GroupCommitOptions<T>) {
    this.#o = { ...options, maxBatch: Math.max(1, options.maxBatch) };
    this.#weight = options.weight ?? (() => 1);
  }

  /** Items waiting for a batch (not counting the one committing). */
  get queued(): number {
    return this.#queue.length;
  }

  /** The drain in progress, if any. */
  get draining(): Promise<void> | undefined {
    return this.#draining;
  }

  push(item: T): void {
    this.#queue.push(item);
    this.#queuedWeight += this.#weight(item);
    if (this.#queuedWeight >= this.#o.maxBatch) {
      void this.flush();
      return;
    }
    // While a batch commits, new items wait for the drain loop, which takes them next (group commit).
    if (this.#timer || this.#draining) return;
    const start = () => {
      this.#timer = undefined;
      void this.#drain();
    };
    this.#timer = this.#o.flushDelayMs > 0 ? setTimeout(start, this.#o.flushDelayMs) : setImmediate(start);
  }

  /** Commits everything queued now; settles once the queue is empty. */
  flush(): Promise<void> {
    this.#cancelTimer();
    return this.#drain();
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    if (this.#o.flushDelayMs > 0) clearTimeout(this.#timer as NodeJS.Timeout);
    else clearImmediate(this.#timer as NodeJS.Immediate);
    this.#timer = undefined;
  }

  #drain(): Promise<void> {
    if (this.#draining || this.#queue.length === 0) return this.#draining ?? Promise.resolve();
    const run = async () => {
      // Start after #draining is assigned: clearing it in `finally` must never precede setting it,
      // or a stale settled promise would stay behind and every later item would wait forever.
      await undefined;
      try {
        while (this.#queue.length > 0) {
          let weight = 0;
          let count = 0;
          while (count < this.#queue.length && (count === 0 || weight < this.#o.maxBatch)) {
            weight += this.#weight(this.#queue[count]!);
            count++;
          }
          this.#queuedWeight -= weight;
          await this.#o.commit(this.#queue.splice(0, count));
        }
      } finally {
        this.#draining = undefined;
      }
    };
    this.#draining = run();
    return this.#draining;
  }
}
