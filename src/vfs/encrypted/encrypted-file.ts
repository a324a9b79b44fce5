// An open container as a plaintext FsFile: random reads and writes through a small per-file cache of segments.
import { toFerryError } from '../../errors.js';
import { type ByteChunks, byteLength, chunksOf } from '../../util/byte-chunks.js';
import { withFields } from '../../util/with-fields.js';
import type { FsFile, FsStat } from '../types.js';
import {
  type ContainerKeys,
  containerSize,
  finalIndex,
  IntegrityError,
  plainArea,
  plainSizeOf,
  SEGMENT_SIZE,
  sealSegment,
  segmentOffset,
} from './container.js';
import { segmentBuffers } from './segment-buffers.js';
import { type Segment, SegmentCache } from './segment-cache.js';
import { SegmentLoader } from './segment-loader.js';
import { SegmentReads } from './segment-reads.js';
import { FileAppends } from './segment-stream.js';

/** Segments kept decrypted per open file: bounds memory, absorbs out-of-order pipelined writes. */
const CACHED_SEGMENTS = 4;
/** Sealed segments on their way to disk per open file before a writer waits: bounds memory when the disk is slow. */
const MAX_INFLIGHT_WRITES = 8;

const noop = () => undefined;

/**
 * Reads run together; a write, truncate, utimes, sync or close waits for everything before it and holds
 * the file alone. Writes are write-back: a segment is sealed and stored when a write fills it, when it leaves
 * the cache, on sync, utimes and close (a failed store is reported by the next call and by close).
 */
export class EncryptedFile implements FsFile {
  readonly #inner: FsFile;
  readonly #keys: ContainerKeys;
  readonly #name: string;
  #size: number;
  /** The segment stored on disk sealed as final, and its length (null when none is: it is in the cache). */
  #diskFinal: { index: number; length: number } | null;
  readonly #cache = new SegmentCache();
  readonly #inflight = new Set<Promise<void>>();
  /** Brings segments into the cache, read and authenticated (with a descriptor, in one thread-pool job per run). */
  readonly #loader: SegmentLoader;
  /** Writes at the end of the file go to a sealing thread while it is active (segment-stream.ts). */
  readonly #appends = new FileAppends((err) => {
    this.#failure ??= toFerryError(err);
    return this.#failure;
  });
  #failure: Error | undefined;
  #lastOp: Promise<void> = Promise.resolve();
  #lastChange: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(inner: FsFile, keys: ContainerKeys, plainSize: number, name: string) {
    this.#inner = inner;
    this.#keys = keys;
    this.#name = name;
    this.#size = plainSize;
    this.#diskFinal = { index: finalIndex(plainSize), length: plainSize % SEGMENT_SIZE };
    this.#loader = new SegmentLoader(this.#cache, new SegmentReads(inner, keys, name), {
      diskFinal: () => this.#diskFinal,
      settle: () => this.#settle(),
    });
  }

  /** An existing container of `storedSize` bytes whose header gave `keys`. */
  static open(inner: FsFile, keys: ContainerKeys, storedSize: number, name: string): EncryptedFile {
    return new EncryptedFile(inner, keys, plainSizeOf(storedSize), name);
  }

  /** Makes the empty file `inner` a container: header and an empty final segment, so it is whole from the start. */
  static async create(
    inner: FsFile,
    header: Buffer,
    keys: ContainerKeys,
    name: string,
  ): Promise<EncryptedFile> {
    const buffer = segmentBuffers.take();
    await inner.write(0, [header, sealSegment(keys, 0, true, buffer, 0)]);
    segmentBuffers.give(buffer);
    return new EncryptedFile(inner, keys, 0, name);
  }

  get resolvedPath(): string | null | undefined {
    return this.#inner.resolvedPath;
  }

  #exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#lastOp.then(() => {
      if (this.#failure) throw this.#failure;
      return op();
    });
    this.#lastOp = this.#lastChange = run.then(noop, noop);
    return run;
  }

  #shared<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#lastChange.then(op);
    const done = run.then(noop, noop);
    this.#lastOp = Promise.all([this.#lastOp, done]).then(noop);
    return run;
  }

  read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    if (into && into.length < headroom + length) {
      return Promise.reject(
        new RangeError(`read buffer of ${into.length} bytes is smaller than ${headroom + length}`),
      );
    }
    return this.#shared(async () => {
      await this.#endStream();
      const size = this.#size;
      const end = Math.min(size, position + length);
      const count = Math.max(0, end - position);
      const out = into ? into.subarray(0, headroom + count) : Buffer.allocUnsafe(headroom + count);
      // Every segment of the read is loaded at once: a 255 KiB read waits for one round of preads, not four.
      const first = Math.floor(position / SEGMENT_SIZE);
      const touched = count === 0 ? 0 : Math.floor((end - 1) / SEGMENT_SIZE) - first + 1;
      const done: Array<[number, Segment]> = [];
      this.#cache.pin(first, touched, 1);
      try {
        // Settled, all of them, before any failure is thrown: a load this read started must not outlive the
        // read's turn (a write or close let in meanwhile would meet its stale segment, or its job a closed fd).
        const settled = await Promise.allSettled(this.#loader.segments(first, touched));
        const segments = settled.map((outcome) => {
          if (outcome.status === 'rejected') throw outcome.reason;
          return outcome.value;
        });
        let at = position;
        while (at < end) {
          const index = Math.floor(at / SEGMENT_SIZE);
          const segment = segments[index - first]!;
          const from = at - index * SEGMENT_SIZE;
          const take = Math.min(end - at, segment.length - from);
          segment.plain.copy(out, headroom + (at - position), from, from + take);
          at += take;
          if (from + take === SEGMENT_SIZE) done.push([index, segment]);
        }
      } finally {
        this.#cache.pin(first, touched, -1);
      }
      // Read to its end by a reader moving forward: no next read needs it, so it leaves the cache at once.
      for (const [index, segment] of done) {
        if (!segment.dirty && this.#cache.get(index) === segment) this.#cache.evict(index, segment);
      }
      // Reaching the end proves it: a container cut at a segment boundary otherwise reads as a shorter whole file.
      if (end === size) await this.#segment(finalIndex(size));
      this.#trim(false);
      return out;
    });
  }

  write(position: number, data: ByteChunks): Promise<void> {
    return this.#exclusive(async () => {
      const length = byteLength(data);
      if (length === 0) return;
      if (position === this.#size && (this.#appends.active || (await this.#startStream()))) {
        for (const chunk of chunksOf(data)) {
          await this.#appends.push(chunk);
          this.#size += chunk.length;
        }
        return;
      }
      await this.#endStream();
      if (position > this.#size) await this.#grow(position);
      const oldSize = this.#size;
      const end = position + length;
      let at = position;
      const filled: Array<[number, Segment]> = [];
      for (const chunk of chunksOf(data)) {
        let from = 0;
        while (from < chunk.length) {
          const index = Math.floor(at / SEGMENT_SIZE);
          const offset = at - index * SEGMENT_SIZE;
          const take = Math.min(chunk.length - from, SEGMENT_SIZE - offset);
          const covers =
            offset === 0 &&
            Math.min(end - index * SEGMENT_SIZE, SEGMENT_SIZE) >=
              Math.min(SEGMENT_SIZE, oldSize - index * SEGMENT_SIZE);
          const segment =
            this.#cache.get(index) ??
            (index <= finalIndex(oldSize) && !covers ? await this.#segment(index) : this.#cache.fresh(index));
          chunk.copy(segment.plain, offset, from, from + take);
          segment.length = Math.max(segment.length, offset + take);
          segment.dirty = true;
          if (offset + take === SEGMENT_SIZE) filled.push([index, segment]);
          at += take;
          from += take;
        }
      }
      if (end > oldSize) {
        this.#size = end;
        // Ending on a segment boundary: the file's end is the empty final segment after it.
        if (end % SEGMENT_SIZE === 0 && !this.#cache.has(finalIndex(end))) this.#cache.fresh(finalIndex(end));
      }
      // A segment this write filled to its end is sealed and stored now, while its bytes are still in the CPU's
      // cache, rather than when it leaves the cache: a sequential upload writes each segment once, and the
      // kernel's copy of a cold segment into the page cache cost 40% more (docs/PERFORMANCE.md). A later write
      // into it reads it back.
      for (const [index, segment] of filled) this.#storeSegment(index, segment);
      this.#trim(true);
      // Backpressure: a writer faster than the disk waits here, so sealed segments in memory stay bounded.
      while (this.#inflight.size >= MAX_INFLIGHT_WRITES) await Promise.race(this.#inflight);
    });
  }

  /** Zero-fills from the end of file to `size`: the old final segment fills up, whole segments between are stored at once. */
  async #grow(size: number): Promise<void> {
    const oldFinal = finalIndex(this.#size);
    const newFinal = finalIndex(size);
    const last = this.#cache.get(oldFinal) ?? (await this.#segment(oldFinal));
    const lastLength = oldFinal === newFinal ? size - newFinal * SEGMENT_SIZE : SEGMENT_SIZE;
    last.plain.fill(0, last.length, lastLength);
    last.length = lastLength;
    last.dirty = true;
    if (oldFinal === newFinal) {
      this.#size = size;
      return;
    }
    for (let index = oldFinal + 1; index < newFinal; index++) {
      const buffer = segmentBuffers.take();
      plainArea(buffer).fill(0);
      this.#store(index, buffer, SEGMENT_SIZE, false);
      if (this.#inflight.size >= MAX_INFLIGHT_WRITES) await Promise.race(this.#inflight);
    }
    const final = this.#cache.fresh(newFinal);
    final.length = size - newFinal * SEGMENT_SIZE;
    final.plain.fill(0, 0, final.length);
    final.dirty = true;
    this.#size = size;
  }

  truncate(size: number): Promise<void> {
    return this.#exclusive(async () => {
      await this.#endStream();
      if (size > this.#size) return this.#grow(size);
      if (size === this.#size) return;
      const index = finalIndex(size);
      const length = size - index * SEGMENT_SIZE;
      // What is cut away need not authenticate; what stays of the new final segment must.
      const last =
        this.#cache.get(index) ?? (length === 0 ? this.#cache.fresh(index) : await this.#segment(index));
      this.#cache.dropAfter(index);
      last.length = length;
      last.dirty = true;
      this.#size = size;
      // Segments cut off may still be on their way to disk: they must land before the cut, not after it.
      await this.#settle();
      if (this.#diskFinal && this.#diskFinal.index >= index) this.#diskFinal = null;
      await this.#inner.truncate(containerSize(size));
    });
  }

  /** Segment `index` from the cache, or read from disk and authenticated (and then cached). */
  #segment(index: number): Promise<Segment> {
    return this.#loader.segment(index);
  }

  /**
   * Seals the `length` plaintext bytes of segment buffer `buffer` in place and stores them without waiting;
   * the buffer returns to the pool once on disk. A failure is kept for the next call.
   */
  #store(index: number, buffer: Buffer, length: number, final: boolean): void {
    const sealed = sealSegment(this.#keys, index, final, buffer, length);
    if (final) this.#diskFinal = { index, length };
    else if (this.#diskFinal?.index === index) this.#diskFinal = null;
    const write: Promise<void> = this.#inner.write(segmentOffset(index), [sealed]).then(
      () => {
        this.#inflight.delete(write);
        segmentBuffers.give(buffer);
      },
      (err: unknown) => {
        this.#inflight.delete(write);
        this.#failure ??= toFerryError(err);
      },
    );
    this.#inflight.add(write);
  }

  /**
   * Stores a dirty segment, which leaves the cache: sealing in place turns its buffer into ciphertext. Only
   * while holding the file alone (no read is copying from it).
   */
  #storeSegment(index: number, segment: Segment): void {
    const final = index === finalIndex(this.#size);
    if (!final && segment.length !== SEGMENT_SIZE) {
      throw new IntegrityError(`${this.#name}: internal error: segment ${index} is short but not final`);
    }
    this.#cache.delete(index);
    segment.dirty = false;
    this.#store(index, segment.buffer, segment.length, final);
  }

  /** Evicts least recently used segments beyond the cache size; dirty ones only when holding the file alone. */
  #trim(mayStore: boolean): void {
    for (const [index, segment] of this.#cache.entries()) {
      if (this.#cache.size <= CACHED_SEGMENTS) return;
      if (!segment.dirty) this.#cache.evict(index, segment);
      else if (mayStore) this.#storeSegment(index, segment);
    }
  }

  /** Waits for every stored segment; throws the first failure. */
  async #settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
    if (this.#failure) throw this.#failure;
  }

  /**
   * The first write at the end of the file starts a stream from its final segment (whose plaintext, if any, goes
   * first); the cache then holds nothing from that segment on. False when there is none to be had.
   */
  async #startStream(): Promise<boolean> {
    const fd = this.#inner.descriptor;
    if (!this.#appends.untried || fd === undefined || this.#cache.hasDirty()) return false;
    await this.#settle();
    const index = finalIndex(this.#size);
    const length = this.#size - index * SEGMENT_SIZE;
    const final = length > 0 ? await this.#segment(index) : undefined;
    if (!this.#appends.start(fd, index, this.#keys)) return false;
    this.#diskFinal = null;
    if (final) await this.#appends.push(final.plain.subarray(0, length));
    for (const [cached, segment] of this.#cache.entries())
      if (cached >= index) this.#cache.evict(cached, segment);
    return true;
  }

  /** Ends a stream (everything written, the last segment as final) before anything else touches the file. */
  async #endStream(): Promise<void> {
    if (await this.#appends.end()) {
      this.#diskFinal = { index: finalIndex(this.#size), length: this.#size % SEGMENT_SIZE };
    }
  }

  /** Stores every changed segment in order (they leave the cache) and waits for them. */
  async #flush(): Promise<void> {
    if (this.#appends.active) return this.#appends.flush();
    for (const [index, segment] of this.#cache.dirtyInOrder()) this.#storeSegment(index, segment);
    await this.#settle();
  }

  stat(): Promise<FsStat> {
    return this.#shared(async () => withFields(await this.#inner.stat(), { size: this.#size }));
  }

  chmod(mode: number): Promise<void> {
    return this.#inner.chmod(mode);
  }

  /** Stores pending data first, so the times set are not overwritten by a later write-back. */
  utimes(atime: number, mtime: number): Promise<void> {
    return this.#exclusive(async () => {
      // A stream would write its final segment again at close, after these times: it ends here.
      await this.#endStream();
      await this.#flush();
      await this.#inner.utimes(atime, mtime);
    });
  }

  sync(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#flush();
      await this.#inner.sync();
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const flushed = this.#lastOp.then(async () => {
      if (this.#failure) throw this.#failure;
      await this.#endStream();
      return this.#flush();
    });
    this.#lastOp = this.#lastChange = flushed.then(noop, noop);
    return flushed.finally(async () => {
      await this.#appends.abort();
      return this.#inner.close();
    });
  }
}
