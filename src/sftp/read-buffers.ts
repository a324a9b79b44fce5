// Reuses a session's READ reply buffers instead of allocating a fresh 255 KiB one per READ.

/*
 * Why: a download allocated one READ buffer per request (1 GiB of buffers per GiB sent) on top of ssh2's
 * packet buffers. V8 runs a scavenge whenever young ArrayBuffers reach a fixed size, so that churn meant a
 * scavenge every ~20 ms; buffers still queued for the client then survived into the old generation and a
 * slow client tipped the process into back-to-back mark-compacts (--trace-gc: ~70 per GiB, throughput
 * halved). Reused buffers are allocated once per session.
 */

/** Free buffers are dropped after this long without a READ, so an idle session holds none. */
const IDLE_DROP_MS = 2000;

export class ReadBufferPool {
  readonly #size: number;
  readonly #maxFree: number;
  #free: Buffer[] = [];
  #idleTimer: NodeJS.Timeout | undefined;

  /** Buffers of `size` bytes; at most `maxFree` are kept for reuse. */
  constructor(size: number, maxFree: number) {
    this.#size = size;
    this.#maxFree = maxFree;
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafe(this.#size);
  }

  /** Only for a buffer nothing reads or writes any more (its reply went through the channel's write callback). */
  give(buffer: Buffer): void {
    if (buffer.length !== this.#size || this.#free.length >= this.#maxFree) return;
    this.#free.push(buffer);
    if (this.#idleTimer) this.#idleTimer.refresh();
    else this.#idleTimer = setTimeout(() => this.clear(), IDLE_DROP_MS).unref();
  }

  /** Drops every free buffer (idle, or the session ended). */
  clear(): void {
    this.#free = [];
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  get freeCount(): number {
    return this.#free.length;
  }
}
