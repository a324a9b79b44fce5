// An open local file as a raw descriptor (opened in the root by the confine addon): positional I/O through node:fs.
import * as fs from 'node:fs';
import { toFerryError } from '../../errors.js';
import { type ByteChunks, byteLength, chunksOf } from '../../util/byte-chunks.js';
import type { FsFile, FsStat } from '../types.js';
import { call, INLINE_IO_BYTES, now, type Positioned, takeContiguous } from './positional-batch.js';
import { type ReadCached, type ReadCalls, ReadQueue } from './read-queue.js';
import { toFsStat } from './stat.js';

/**
 * The chunks of contiguous writes, in order. A loop, not `flatMap`: this runs per WRITE, and `flatMap` over a
 * few short arrays costs 0.5-1.5 us under Node 20 against ~0.1 us (docs/PERFORMANCE.md, stop 59).
 */
function batchChunks(batch: readonly PendingWrite[]): readonly Buffer[] {
  if (batch.length === 1) return batch[0]!.chunks;
  const chunks: Buffer[] = [];
  for (const w of batch) for (const chunk of w.chunks) chunks.push(chunk);
  return chunks;
}

interface PendingWrite extends Positioned {
  readonly chunks: readonly Buffer[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class LocalFile implements FsFile {
  readonly #fd: number;
  readonly resolvedPath: string | null;
  /**
   * fstat and close run on this thread (the root's metadata calls are inline); reads and writes never, though
   * the read queue asks fstat where the file ends.
   */
  readonly #inline: boolean;
  /** Reads go through one queue per file, batched into preadv calls (read-queue.ts); made at the first read. */
  #reads: ReadQueue | undefined;
  /** Writes waiting for the one in progress; see write(). */
  #queue: PendingWrite[] = [];
  #writing = false;
  #closed = false;

  /** node:fs's read calls, replaced by a test that counts them. */
  readonly #readCalls: ReadCalls | undefined;

  /** How cached data is read on this thread (cached-reads.ts), when the root's metadata calls are inline. */
  readonly #readCached: ReadCached | undefined;

  constructor(
    fd: number,
    resolvedPath: string | null,
    inline = false,
    readCalls?: ReadCalls,
    readCached?: ReadCached,
  ) {
    this.#fd = fd;
    this.resolvedPath = resolvedPath;
    this.#inline = inline;
    this.#readCalls = readCalls;
    this.#readCached = readCached;
  }

  get descriptor(): number {
    return this.#fd;
  }

  async read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    if (into && into.length < headroom + length) {
      throw new RangeError(`read buffer of ${into.length} bytes is smaller than ${headroom + length}`);
    }
    const buffer = into ?? Buffer.allocUnsafe(headroom + length);
    let filled = 0;
    // pread may return short counts (signals, network filesystems); only 0 means end of file.
    while (filled < length) {
      // Inline, the queue answers a read at or past the end from fstat, without the pool (read-queue.ts).
      this.#reads ??= new ReadQueue(this.#fd, this.#readCalls, this.#inline, this.#readCached);
      const bytesRead = await this.#reads.pread(
        buffer,
        headroom + filled,
        length - filled,
        position + filled,
      );
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, headroom + filled);
  }

  /**
   * One write at a time per file, in call order; writes queued meanwhile that continue one another go
   * out as one pwritev. Pipelined SFTP uploads otherwise put several thread-pool threads on one file,
   * where they spin on the inode lock (perf showed ~8% of upload CPU) and each pays its own wake-up.
   */
  write(position: number, data: ByteChunks): Promise<void> {
    return new Promise((resolve, reject) => {
      const chunks = chunksOf(data);
      this.#queue.push({
        position,
        chunks,
        length: byteLength(data),
        iovecs: chunks.length,
        resolve,
        reject,
      });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const batch = takeContiguous(this.#queue);
      try {
        await this.#writeAllAt(batchChunks(batch), batch[0]!.position);
        for (const w of batch) w.resolve();
      } catch (err) {
        const error = toFerryError(err);
        for (const w of batch) w.reject(error);
      }
    }
    this.#writing = false;
  }

  /** pwritev of all of `buffers` at `position`, continuing after short writes. */
  async #writeAllAt(buffers: readonly Buffer[], position: number): Promise<void> {
    const pending = buffers.filter((b) => b.length > 0);
    let at = position;
    // A small write (a small file's whole data) on a root whose metadata calls are inline goes the same way:
    // into the page cache it takes a few microseconds, less than the pool's hand-over and wake-up around it.
    const here = this.#inline && byteLength(pending) <= INLINE_IO_BYTES;
    while (pending.length > 0) {
      const first = pending[0]!;
      const written = here
        ? await now(() =>
            pending.length === 1
              ? fs.writeSync(this.#fd, first, 0, first.length, at)
              : fs.writevSync(this.#fd, pending, at),
          )
        : pending.length === 1
          ? await call<number>((done) => fs.write(this.#fd, first, 0, first.length, at, done))
          : await call<number>((done) => fs.writev(this.#fd, pending, at, done));
      // A write that makes no progress would loop forever; the kernel reports ENOSPC on the next call.
      at += written;
      let skip = written;
      while (pending.length > 0 && skip >= pending[0]!.length) skip -= pending.shift()!.length;
      if (skip > 0) pending[0] = pending[0]!.subarray(skip);
    }
  }

  async stat(): Promise<FsStat> {
    const stats = this.#inline
      ? await now(() => fs.fstatSync(this.#fd))
      : await call<fs.Stats>((done) => fs.fstat(this.#fd, done));
    return toFsStat(stats);
  }

  truncate(size: number): Promise<void> {
    return call((done) => fs.ftruncate(this.#fd, size, done));
  }

  chmod(mode: number): Promise<void> {
    return call((done) => fs.fchmod(this.#fd, mode, done));
  }

  utimes(atime: number, mtime: number): Promise<void> {
    return call((done) => fs.futimes(this.#fd, atime, mtime, done));
  }

  sync(): Promise<void> {
    return call((done) => fs.fsync(this.#fd, done));
  }

  close(): Promise<void> {
    // A descriptor number is reused by the next open: closing twice could close someone else's file.
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return this.#inline ? now(() => fs.closeSync(this.#fd)) : call((done) => fs.close(this.#fd, done));
  }
}
