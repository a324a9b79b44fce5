// The process's free segment buffers: transfers through encrypted storage reuse a few instead of allocating one per segment.
import { newSegmentBuffer, SEALED_SEGMENT_SIZE } from './container.js';

/*
 * Why shared by every open file: a download has a client's whole read window of segments loading at once
 * (OpenSSH: 64 reads of 32 KiB, 32 segments), so a per-file pool would either hold that much for every open file
 * or drop most buffers and allocate again. Fresh buffers are what made V8 scavenge twice as often (see
 * segment-cipher.ts). A buffer's bytes past its segment's length are never read, written to disk or returned,
 * so reuse across files shows nothing of one file in another; idle, the pool empties itself.
 */

/**
 * Free buffers kept (8 MiB): a couple of clients' read windows. OpenSSH 9.2's sftp keeps ~70 segments loading
 * during a download (measured); with 32 kept, 40 % of a download's segments took a fresh buffer and the
 * 64 KiB ArrayBuffers coming and going drove V8 into a mark-compact every ~0.5 s. Idle, the pool empties anyway.
 */
const MAX_FREE = 128;
/** Free buffers are dropped after this long without use, so an idle server holds none. */
const IDLE_DROP_MS = 2000;

export class SegmentBufferPool {
  readonly #maxFree: number;
  #free: Buffer[] = [];
  #idleTimer: NodeJS.Timeout | undefined;
  #allocated = 0;

  constructor(maxFree = MAX_FREE) {
    this.#maxFree = maxFree;
  }

  /** A segment buffer (newSegmentBuffer's layout), contents undefined. */
  take(): Buffer {
    const free = this.#free.pop();
    if (free) return free;
    this.#allocated++;
    return newSegmentBuffer();
  }

  /** Buffers this pool had to allocate (none was free), since the process started. */
  get allocated(): number {
    return this.#allocated;
  }

  /** Only for a buffer nothing reads or writes any more (its segment left the cache, or is on disk). */
  give(buffer: Buffer): void {
    if (buffer.length !== SEALED_SEGMENT_SIZE || this.#free.length >= this.#maxFree) return;
    this.#free.push(buffer);
    if (this.#idleTimer) this.#idleTimer.refresh();
    else this.#idleTimer = setTimeout(() => this.clear(), IDLE_DROP_MS).unref();
  }

  get free(): number {
    return this.#free.length;
  }

  clear(): void {
    this.#free = [];
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

export const segmentBuffers = new SegmentBufferPool();
