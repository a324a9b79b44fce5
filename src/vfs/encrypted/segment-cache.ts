// The decrypted segments an open encrypted file keeps: most recently used last, with the reads copying from them.
import { plainArea } from './container.js';
import { segmentBuffers } from './segment-buffers.js';

export interface Segment {
  /** The segment buffer (newSegmentBuffer): sealed and opened in place. */
  buffer: Buffer;
  /** Its plaintext area; bytes in [0, length) are the segment's, those after are undefined (not zeros). */
  plain: Buffer;
  length: number;
  /** Changed since it was last sealed to disk. */
  dirty: boolean;
}

/** Segment buffers come from and go back to the process's pool (segment-buffers.ts). */
export class SegmentCache {
  readonly #segments = new Map<number, Segment>();
  /**
   * Segments a read is copying from, by index, counted: their buffers must not be reused meanwhile (a read
   * that finished with a segment evicts it while another read of the same segment may still be waiting).
   */
  readonly #pins = new Map<number, number>();
  /**
   * Buffers of segments evicted while pinned, by index: they go back to the pool when their last read lets go.
   * (Dropped instead, a download lost ~40 % of its segment buffers to the garbage collector: a pipelining
   * client's window keeps tens of segments loading while the cache keeps 4, and the 64 KiB buffers V8 then saw
   * come and go drove it into a mark-compact every ~0.5 s.)
   */
  readonly #parked = new Map<number, Buffer[]>();

  get size(): number {
    return this.#segments.size;
  }

  get(index: number): Segment | undefined {
    return this.#segments.get(index);
  }

  has(index: number): boolean {
    return this.#segments.has(index);
  }

  /** Segment `index`, now the most recently used (the cache evicts from the front). */
  touch(index: number): Segment | undefined {
    const segment = this.#segments.get(index);
    if (segment) {
      this.#segments.delete(index);
      this.#segments.set(index, segment);
    }
    return segment;
  }

  /** A segment read from disk (clean). */
  add(index: number, buffer: Buffer, length: number): Segment {
    const segment = { buffer, plain: plainArea(buffer), length, dirty: false };
    this.#segments.set(index, segment);
    return segment;
  }

  /** A new empty segment. */
  fresh(index: number): Segment {
    const segment = this.add(index, segmentBuffers.take(), 0);
    segment.dirty = true;
    return segment;
  }

  /** Removes `index` without reusing its buffer (being sealed and stored, or cut away). */
  delete(index: number): void {
    this.#segments.delete(index);
  }

  /** Removes the segments after `index` (cut away by a truncate); a read may still hold their buffers. */
  dropAfter(index: number): void {
    for (const cached of this.#segments.keys()) if (cached > index) this.#segments.delete(cached);
  }

  /** Drops clean segment `index`; its buffer is reused once no read is copying from it. */
  evict(index: number, segment: Segment): void {
    this.#segments.delete(index);
    if (!this.#pins.has(index)) segmentBuffers.give(segment.buffer);
    else {
      const parked = this.#parked.get(index);
      if (parked) parked.push(segment.buffer);
      else this.#parked.set(index, [segment.buffer]);
    }
  }

  pin(first: number, count: number, by: 1 | -1): void {
    for (let index = first; index < first + count; index++) {
      const pins = (this.#pins.get(index) ?? 0) + by;
      if (pins !== 0) {
        this.#pins.set(index, pins);
        continue;
      }
      this.#pins.delete(index);
      const parked = this.#parked.get(index);
      if (parked) {
        this.#parked.delete(index);
        for (const buffer of parked) segmentBuffers.give(buffer);
      }
    }
  }

  /** Least recently used first. */
  entries(): IterableIterator<[number, Segment]> {
    return this.#segments.entries();
  }

  hasDirty(): boolean {
    for (const segment of this.#segments.values()) if (segment.dirty) return true;
    return false;
  }

  /** The changed segments in file order. */
  dirtyInOrder(): Array<[number, Segment]> {
    return [...this.#segments].filter(([, s]) => s.dirty).sort(([a], [b]) => a - b);
  }
}
