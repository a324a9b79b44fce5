// A container's segments read and opened as one thread-pool job each (native/aead/src/io.c), for local files.
import { toFerryError } from '../../errors.js';
import type { FsFile } from '../types.js';
import { type ContainerKeys, openingAad, segmentOffset } from './container.js';
import { type SegmentIo, segmentIo } from './segment-cipher.js';

/*
 * Why: a segment's read goes to libuv's thread pool anyway, and opening it on the event loop's thread, the one
 * every session of a worker shares, was ~0.25 s/GiB of the ~0.4 s/GiB an encrypted download cost that thread
 * beyond a plain one (docs/PERFORMANCE.md). In the same job it costs that thread nothing. Only for files with a
 * descriptor (local storage); other backends read through the file and open on this thread.
 */
export class SegmentReads {
  readonly #fd: number;
  readonly #io: SegmentIo;
  readonly #keys: ContainerKeys;

  private constructor(fd: number, io: SegmentIo, keys: ContainerKeys) {
    this.#fd = fd;
    this.#io = io;
    this.#keys = keys;
  }

  /** Reads on `inner`'s descriptor, or undefined when it has none or the addon lacks them. */
  static for(
    inner: FsFile,
    keys: ContainerKeys,
    io: SegmentIo | undefined = segmentIo,
  ): SegmentReads | undefined {
    const fd = inner.descriptor;
    return fd !== undefined && io ? new SegmentReads(fd, io, keys) : undefined;
  }

  /**
   * Reads segment `index` (`sealedLength` bytes as stored) into `buffer` and opens it there: sealedLength when it
   * authenticated, -1 when it did not (the bytes are zeroed), fewer when the file ended first. The buffer
   * belongs to the job until it settles; the caller keeps the file open until then.
   */
  load(index: number, final: boolean, buffer: Buffer, sealedLength: number): Promise<number> {
    return this.#io
      .readOpen(
        this.#fd,
        segmentOffset(index),
        buffer,
        sealedLength,
        this.#keys.dataKey,
        openingAad(this.#keys, index, final),
      )
      .catch((err: unknown) => {
        throw toFerryError(err);
      });
  }
}
