// Streamed hashing of file ranges and the incremental SHA-256 of an upload written in order.
import { createHash } from 'node:crypto';
import type { Logger } from '../logger.js';
import { type ByteChunks, byteLength, chunksOf } from '../util/byte-chunks.js';
import { fromRunningHash, type UploadSha256, uploadSha256 } from '../util/upload-sha256.js';
import type { RunningSha256 } from '../vfs/types.js';
import type { HashAlgorithm } from './types.js';

/** Read size while hashing; memory stays at one chunk whatever the file size. */
export const HASH_CHUNK = 256 * 1024;

export type RangeReader = (position: number, length: number) => Promise<Buffer>;

/** Lends a reader for the duration of `use` (so whatever it opened is closed afterwards). */
export type RangeSource = <T>(use: (read: RangeReader) => Promise<T>) => Promise<T>;

/**
 * Digest of [offset, offset+length) (length 0 = to end of file), streamed in bounded chunks. `checkAborted`
 * runs before each chunk and throws to stop (the client left), e.g. () => signal.throwIfAborted().
 */
export async function hashRange(
  read: RangeReader,
  algorithm: HashAlgorithm,
  offset: number,
  length: number,
  checkAborted?: () => void,
): Promise<Buffer> {
  const hash = createHash(algorithm);
  await feedRange(hash, read, offset, length, checkAborted);
  return hash.digest();
}

async function feedRange(
  hash: { update(data: Uint8Array): unknown },
  read: RangeReader,
  offset: number,
  length: number,
  checkAborted?: () => void,
): Promise<void> {
  const end = length === 0 ? Number.POSITIVE_INFINITY : offset + length;
  let position = offset;
  while (position < end) {
    checkAborted?.();
    const chunk = await read(position, Math.min(HASH_CHUNK, end - position));
    if (chunk.length === 0) break;
    // An upload's hash may ask to wait (its thread's ring is full: see util/upload-sha256.ts).
    const wait = hash.update(chunk);
    if (wait instanceof Promise) await wait;
    position += chunk.length;
  }
}

/**
 * SHA-256 of an upload computed while it streams. Writes are observed synchronously in call order;
 * the digest stays valid only while each write starts where the previous one ended, beginning at 0 or
 * at the size the file had when opened (a resume: that prefix is hashed from disk first, and writes
 * wait for it so memory stays bounded by the client's window). Anything else marks it invalid and the
 * caller falls back to hashing the final file.
 */
export class UploadDigest {
  readonly #sizeAtOpen: number;
  readonly #prefixSource: RangeSource;
  readonly #log: Logger;
  readonly #resumed: ((length: number) => RunningSha256 | undefined) | undefined;
  #hash: UploadSha256 | undefined;
  #next = 0;
  #valid = true;
  #tail: Promise<void> = Promise.resolve();

  /** `resumed`: the backend's digest of a prefix it cannot read back (FsFile.resumeSha256), asked first. */
  constructor(
    sizeAtOpen: number,
    prefixSource: RangeSource,
    log: Logger,
    resumed?: (length: number) => RunningSha256 | undefined,
  ) {
    this.#sizeAtOpen = sizeAtOpen;
    this.#prefixSource = prefixSource;
    this.#log = log;
    this.#resumed = resumed;
  }

  /**
   * Call before the data is written; the returned promise settles once it is hashed (never rejects).
   * Chunks are hashed one by one, never copied together.
   */
  observe(offset: number, data: ByteChunks): Promise<void> {
    if (!this.#valid) return Promise.resolve();
    if (this.#hash === undefined) {
      if (offset !== 0 && offset !== this.#sizeAtOpen) return this.invalidate();
      const given = offset !== 0 ? this.#resumed?.(offset) : undefined;
      // Large uploads are hashed on a thread of their own past their first megabyte (util/upload-sha256.ts).
      const hash = given ? fromRunningHash(given) : uploadSha256();
      this.#hash = hash;
      if (offset !== 0 && !given) {
        this.#chain(() => this.#prefixSource((read) => feedRange(hash, read, 0, offset)));
      }
      this.#next = offset;
    }
    if (offset !== this.#next) return this.invalidate();
    this.#next += byteLength(data);
    const hash = this.#hash;
    return this.#chain(async () => {
      for (const chunk of chunksOf(data)) {
        const wait = hash.update(chunk);
        if (wait) await wait;
      }
    });
  }

  invalidate(): Promise<void> {
    this.#valid = false;
    this.#hash?.release();
    return Promise.resolve();
  }

  /** The handle is done with the digest, asked for or not: a thread still hashing a failed upload stops. */
  release(): void {
    this.#hash?.release();
  }

  /** Hex digest when every byte of a file of `finalSize` bytes went through the digest in order, else undefined. */
  async digestFor(finalSize: number): Promise<string | undefined> {
    await this.#tail;
    if (!this.#valid) return undefined;
    if (this.#hash === undefined) return finalSize === 0 ? createHash('sha256').digest('hex') : undefined;
    // Not asked for: the handle releases the hash when it finishes (file-handle.ts).
    if (this.#next !== finalSize) return undefined;
    return this.#hash.digest();
  }

  #chain(step: () => Promise<void>): Promise<void> {
    this.#tail = this.#tail.then(async () => {
      if (!this.#valid) return;
      try {
        await step();
      } catch (err) {
        this.#log.warn({ err }, 'incremental upload hash failed; falling back to hashing the final file');
        this.#valid = false;
      }
    });
    return this.#tail;
  }
}
