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

/** Segments one native job reads at most (native/aead/src/io.c's MAX_SEGMENTS). */
const MANY_AT_ONCE = 32;

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

  /** Whether loadMany reads consecutive segments in one job (local files with the addon), not one by one. */
  get batched(): boolean {
    return this.#job !== undefined;
  }

  /**
   * Reads consecutive segments from `first` on (`sealedLengths` bytes each, as stored), each into the start of
   * its own buffer, and opens them there: for local files in one job (at most MANY_AT_ONCE a job; a read
   * spanning four segments costs one thread-pool round trip, not four). Resolves with each segment's
   * IntegrityError (the file ended first, or it did not authenticate: its bytes then zeroed or undefined, never
   * served), or undefined where it authenticated; rejects when the file read itself failed. The buffers belong
   * to the read until it settles; the caller keeps the file open.
   */
  async loadMany(
    first: number,
    finals: readonly boolean[],
    buffers: Buffer[],
    sealedLengths: number[],
  ): Promise<Array<IntegrityError | undefined>> {
    if (!this.#job) {
      // Every read settled before any failure is thrown: the caller gives the buffers back when this rejects.
      const settled = await Promise.allSettled(
        buffers.map((buffer, i) => this.#loadThroughFile(first + i, finals[i]!, buffer, sealedLengths[i]!)),
      );
      return settled.map((outcome) => {
        if (outcome.status === 'fulfilled') return undefined;
        if (outcome.reason instanceof IntegrityError) return outcome.reason;
        throw outcome.reason;
      });
    }
    const results: Array<IntegrityError | undefined> = [];
    for (let at = 0; at < buffers.length; at += MANY_AT_ONCE) {
      const count = Math.min(MANY_AT_ONCE, buffers.length - at);
      // Each segment's associated data, copied: openingAad returns shared scratch.
      const aads = Array.from({ length: count }, (_, i) =>
        Buffer.from(openingAad(this.#keys, first + at + i, finals[at + i]!)),
      );
      const got = await this.#job.io
        .readOpenMany(
          this.#job.fd,
          segmentOffset(first + at),
          buffers.slice(at, at + count),
          sealedLengths.slice(at, at + count),
          this.#keys.dataKey,
          aads,
          CIPHER_IDS[this.#keys.cipher],
        )
        .catch((err: unknown) => {
          throw toFerryError(err);
        });
      got.forEach((result, i) => {
        results.push(this.#outcome(first + at + i, result, sealedLengths[at + i]!));
      });
    }
    return results;
  }

  #outcome(index: number, got: number, sealedLength: number): IntegrityError | undefined {
    if (got === -1) return authenticationFailed(this.#name, index);
    if (got !== sealedLength) {
      return new IntegrityError(
        `${this.#name}: encrypted file is truncated (segment ${index} is missing or cut)`,
      );
    }
    return undefined;
  }

  /** A segment read through the file and opened on this thread (no descriptor, or no job in the addon). */
  async #loadThroughFile(index: number, final: boolean, buffer: Buffer, sealedLength: number): Promise<void> {
    const got = (await this.#inner.read(segmentOffset(index), sealedLength, 0, buffer)).length;
    const failure = this.#outcome(index, got, sealedLength);
    if (failure) throw failure;
    openSegment(this.#keys, index, final, buffer.subarray(0, sealedLength), this.#name);
  }
}
