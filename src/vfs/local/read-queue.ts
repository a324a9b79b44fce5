// Positional reads of one descriptor, one thread-pool job at a time (on this thread, where metadata calls are
// inline, for a small file's last bytes and for what the page cache holds): reads asked for meanwhile that
// continue one another go out together as one preadv.
import * as fs from 'node:fs';
import { call, INLINE_IO_BYTES, now, type Positioned, takeContiguous } from './positional-batch.js';

/*
 * Why: a pipelined SFTP download keeps 64 READs going on one handle, and each was a thread-pool job of its own: a
 * hand-over to a pool thread and a wake-up of the event loop per READ, which on a VM is an interrupt to the other
 * CPU each time (strace and perf: ~150 000 context switches for a GiB read in 16 KiB READs). Uploads already
 * write this way (LocalFile.write); this is the same for reads.
 */

interface PendingRead extends Positioned {
  readonly target: Buffer;
  readonly resolve: (bytesRead: number) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * preadv2 with RWF_NOWAIT (the confine addon's `readCached`): what the page cache holds of the range, read on this
 * thread; -1 when none of it is cached, -2 when the file system cannot say without blocking.
 */
export type ReadCached = (fd: number, buffers: Buffer[], position: number) => number;

/**
 * Most bytes one cached read takes on this thread (a batch beyond goes in parts): a copy from the page cache runs
 * at a few GB/s here, so ~0.25 ms of the event loop, which the other sessions of the worker wait for.
 */
export const CACHED_READ_BYTES = 1024 * 1024;

/** The node:fs calls used; a test counts them. */
export interface ReadCalls {
  read: typeof fs.read;
  readv: typeof fs.readv;
  readSync: typeof fs.readSync;
  readvSync: typeof fs.readvSync;
}

export class ReadQueue {
  readonly #fd: number;
  readonly #io: ReadCalls;
  #queue: PendingRead[] = [];
  #reading = false;

  /** fstat runs on this thread (a local file system's metadata calls are inline): the end is known at once. */
  readonly #sizeHere: boolean;
  /** Cached data is read on this thread first; dropped for good once the file system says it cannot. */
  #readCached: ReadCached | undefined;

  constructor(fd: number, io: ReadCalls = fs, sizeHere = false, readCached?: ReadCached) {
    this.#fd = fd;
    this.#io = io;
    this.#sizeHere = sizeHere;
    this.#readCached = readCached;
  }

  /**
   * As pread(2): reads into `buffer[offset, offset + length)` from `position`, resolving with the count read;
   * 0 only at the end of the file. A count short of `length` is not the end: read the rest with another call.
   */
  pread(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const target = buffer.subarray(offset, offset + length);
      this.#queue.push({ target, position, length, iovecs: 1, resolve, reject });
      if (!this.#reading) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#reading = true;
    while (this.#queue.length > 0) {
      const batch = takeContiguous(this.#queue, this.#readCached ? CACHED_READ_BYTES : undefined);
      try {
        await this.#readBatch(batch);
      } catch (err) {
        for (const r of batch) r.reject(err);
      }
    }
    this.#reading = false;
  }

  /**
   * One pread or preadv for the batch; each read gets its share of what came back. A read the count fell short
   * in gets what it has (more than 0, or 0 when it was the batch's first: the end of the file); those after it
   * are read again on their own, so none of them takes a short preadv (a signal, a network file system) for the
   * end of the file.
   */
  async #readBatch(batch: readonly PendingRead[]): Promise<void> {
    const first = batch[0]!;
    // At or past the end of the file: 0 for the whole batch, in its turn, without a pool round trip. A small
    // file's download took three (its data, 0 for the read loop's next pread, 0 for the client's next READ); now
    // one. Taken in queue order, so replies keep the order of their READs.
    const size = this.#sizeHere ? this.#sizeNow() : Number.POSITIVE_INFINITY;
    if (first.position >= size) {
      for (const read of batch) read.resolve(0);
      return;
    }
    if (this.#readCached && (await this.#readBatchCached(batch))) return;
    // What is left of a small file (INLINE_IO_BYTES at most) is read on this thread too: from the page cache a
    // few microseconds, less than the pool's hand-over; a small file's download then needs no pool at all.
    const total =
      size - first.position <= INLINE_IO_BYTES
        ? await now(() =>
            batch.length === 1
              ? this.#io.readSync(this.#fd, first.target, 0, first.target.length, first.position)
              : this.#io.readvSync(
                  this.#fd,
                  batch.map((r) => r.target),
                  first.position,
                ),
          )
        : batch.length === 1
          ? await call<number>((done) =>
              this.#io.read(this.#fd, first.target, 0, first.target.length, first.position, done),
            )
          : await call<number>((done) =>
              this.#io.readv(
                this.#fd,
                batch.map((r) => r.target),
                first.position,
                done,
              ),
            );
    let left = total;
    for (let i = 0; i < batch.length; i++) {
      const read = batch[i]!;
      if (left >= read.target.length) {
        left -= read.target.length;
        read.resolve(read.target.length);
      } else if (left > 0 || i === 0) {
        read.resolve(left);
        left = 0;
      } else {
        read.resolve(
          await call<number>((done) =>
            this.#io.read(this.#fd, read.target, 0, read.target.length, read.position, done),
          ),
        );
      }
    }
  }

  /**
   * The batch from the page cache, on this thread (after a turn of the loop, as every inline call): true when it
   * answered the batch. Reads it filled resolve; a read it filled in part gets what it has; those after it go back
   * to the head of the queue for the next batch (cached again, or the pool). False when nothing was cached, for
   * the pool to read it all.
   */
  async #readBatchCached(batch: readonly PendingRead[]): Promise<boolean> {
    const first = batch[0]!;
    const got = await now(() =>
      this.#readCached!(
        this.#fd,
        batch.map((r) => r.target),
        first.position,
      ),
    );
    if (got === -2) this.#readCached = undefined;
    if (got < 0) return false;
    let left = got;
    let i = 0;
    for (; i < batch.length && (left > 0 || i === 0); i++) {
      const read = batch[i]!;
      const share = Math.min(left, read.target.length);
      left -= share;
      read.resolve(share);
    }
    this.#queue.unshift(...batch.slice(i));
    return true;
  }

  /** The file's size now; infinite when fstat fails, so the pread answers instead. */
  #sizeNow(): number {
    try {
      return fs.fstatSync(this.#fd).size;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }
}
