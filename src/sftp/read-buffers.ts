// Reuses a session's READ reply buffers instead of allocating a fresh one per READ.

/*
 * Why: a download allocated one READ buffer per request (1 GiB of buffers per GiB sent) on top of ssh2's
 * packet buffers. V8 runs a scavenge whenever young ArrayBuffers reach a fixed size, so that churn meant a
 * scavenge every ~20 ms; buffers still queued for the client then survived into the old generation and a
 * slow client tipped the process into back-to-back mark-compacts (--trace-gc: ~70 per GiB, throughput
 * halved). Reused buffers are allocated once per session.
 *
 * Buffers are as large as the session's READs ask for, and the pool keeps as many as the session's byte budget
 * lets be in flight. Sized for the largest READ instead (255 KiB) and counted by that size, 18 were kept under a
 * 4 MiB budget while OpenSSH's `sftp -B 16384` keeps 64 READs going: half of its READs allocated (and the kernel
 * mapped, and V8 counted) a fresh 255 KiB buffer to send 16 KiB, 11.6 s of server CPU per GiB against 1.6 s
 * for 32 KiB READs (docs/PERFORMANCE.md).
 *
 * Lengths are rounded up to a power of two (the size class) before they pick the set. OpenSSH asks again for
 * what a short read left (a 4 KiB file: READ 32768 at 0, then READ 28672 at 4096, which finds the end), so
 * keyed by the exact length every small-file download alternated between two sets, dropped the free buffers
 * at each switch and allocated a fresh 32 KiB buffer for every READ: a third of the server's time in
 * `get -r` of 4 KiB files went to the garbage collector.
 */

/** Free buffers are dropped after this long without a READ, so an idle session holds none. */
const IDLE_DROP_MS = 2000;
/** However small the READs, no more free buffers than this. */
const MAX_FREE = 1024;

/** The smallest power of two at least `length` (and at least 1). */
export function sizeClassOf(length: number): number {
  return length <= 1 ? 1 : 2 ** Math.ceil(Math.log2(length));
}

export class ReadBufferPool {
  readonly #headroom: number;
  readonly #budgetBytes: number;
  /** The size of the buffers kept: the headroom plus the length the session's READs ask for. */
  #size = 0;
  #maxFree = 0;
  #free: Buffer[] = [];
  #idleTimer: NodeJS.Timeout | undefined;

  /**
   * Buffers with `headroom` bytes before the data (the reply's header); as many kept as READs of their size fit
   * in `budgetBytes` (the session's budget for reply bytes), plus one.
   */
  constructor(headroom: number, budgetBytes: number) {
    this.#headroom = headroom;
    this.#budgetBytes = budgetBytes;
  }

  /**
   * A buffer for a READ of `length` bytes: at least `headroom + length` long (the headroom plus the length's
   * size class). A new size class starts a new set.
   */
  take(length: number): Buffer {
    const sizeClass = sizeClassOf(length);
    const size = this.#headroom + sizeClass;
    if (size !== this.#size) {
      this.#free = [];
      this.#size = size;
      this.#maxFree = Math.min(MAX_FREE, Math.ceil(this.#budgetBytes / sizeClass) + 1);
    }
    return this.#free.pop() ?? Buffer.allocUnsafe(size);
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
