// A container's segments read from its file and authenticated: for local files, the read and the opening as one
// thread-pool job each (native/aead/src/io.c); for other backends, a read through the file and opening here.
import { toFerryError } from '../../errors.js';
import type { FsFile } from '../types.js';
import {
  authenticationFailed,
  type ContainerKeys,
  IntegrityError,
  openingAad,
  openSegment,
  segmentOffset,
} from './container.js';
import { CIPHER_IDS, type SegmentIo, segmentIo } from './segment-cipher.js';

/*
 * Why the job: a segment's read goes to libuv's thread pool anyway, and opening it on the event loop's thread,
 * the one every session of a worker shares, was ~0.25 s/GiB of the ~0.4 s/GiB an encrypted download cost that
 * thread beyond a plain one (docs/PERFORMANCE.md). In the same job it costs that thread nothing. Only for files
 * with a descriptor (local storage) and an addon that has the job.
 */
export class SegmentReads {
  readonly #inner: FsFile;
  readonly #keys: ContainerKeys;
  /** The file's name in errors. */
  readonly #name: string;
  readonly #job: { readonly fd: number; readonly io: SegmentIo } | undefined;

  constructor(inner: FsFile, keys: ContainerKeys, name: string, io: SegmentIo | undefined = segmentIo) {
    this.#inner = inner;
    this.#keys = keys;
    this.#name = name;
    const fd = inner.descriptor;
    this.#job = fd !== undefined && io ? { fd, io } : undefined;
  }

  /**
   * Reads segment `index` (`sealedLength` bytes as stored) into the start of `buffer` and opens it there. Throws
   * an IntegrityError when the file ends first or the segment does not authenticate (its bytes then zeroed or
   * undefined, never served). The buffer belongs to the read until it settles; the caller keeps the file open.
   */
  async load(index: number, final: boolean, buffer: Buffer, sealedLength: number): Promise<void> {
    const got = this.#job
      ? await this.#job.io
          .readOpen(
            this.#job.fd,
            segmentOffset(index),
            buffer,
            sealedLength,
            this.#keys.dataKey,
            openingAad(this.#keys, index, final),
            CIPHER_IDS[this.#keys.cipher],
          )
          .catch((err: unknown) => {
            throw toFerryError(err);
          })
      : (await this.#inner.read(segmentOffset(index), sealedLength, 0, buffer)).length;
    if (got !== sealedLength && got !== -1) {
      throw new IntegrityError(
        `${this.#name}: encrypted file is truncated (segment ${index} is missing or cut)`,
      );
    }
    if (got === -1) throw authenticationFailed(this.#name, index);
    if (!this.#job) openSegment(this.#keys, index, final, buffer.subarray(0, sealedLength), this.#name);
  }
}
