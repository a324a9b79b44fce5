// Downloads as ranged GETs: fixed-size aligned blocks fetched on demand, the next few fetched ahead of the reader.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { InvalidArgumentError } from '../../errors.js';
import { s3Error } from './s3-paths.js';

export interface ReaderTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** The version read: a GET of a replaced object fails instead of mixing two versions. */
  readonly etag: string | undefined;
  readonly blockSize: number;
  /** Blocks fetched ahead of the one being read. */
  readonly readAhead: number;
}

/**
 * Reads of one object version. Holds at most readAhead + 2 blocks (one behind, for pipelined requests that
 * arrive slightly out of order); a backwards jump simply fetches again.
 */
export class RangeReader {
  readonly #t: ReaderTarget;
  readonly #blocks = new Map<number, Promise<Buffer>>();

  constructor(target: ReaderTarget) {
    this.#t = target;
  }

  async read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    if (into && into.length < headroom + length) {
      throw new InvalidArgumentError('read buffer smaller than headroom + length');
    }
    const end = Math.min(position + length, this.#t.size);
    const n = Math.max(0, end - position);
    const out = into ? into.subarray(0, headroom + n) : Buffer.allocUnsafe(headroom + n);
    if (n === 0) return out;
    const { blockSize } = this.#t;
    const first = Math.floor(position / blockSize);
    const last = Math.floor((end - 1) / blockSize);
    this.#evict(first);
    for (let i = last + 1; i <= last + this.#t.readAhead; i++) this.#block(i);
    for (let i = first; i <= last; i++) {
      const block = await this.#block(i);
      const from = Math.max(position, i * blockSize);
      const to = Math.min(end, (i + 1) * blockSize);
      block.copy(out, headroom + from - position, from - i * blockSize, to - i * blockSize);
    }
    return out;
  }

  close(): void {
    this.#blocks.clear();
  }

  #evict(first: number): void {
    for (const i of this.#blocks.keys()) {
      if (i < first - 1 || i > first + this.#t.readAhead + 1) this.#blocks.delete(i);
    }
  }

  /** The block's bytes, fetched once; a failed fetch is forgotten so a later read tries again. */
  #block(i: number): Promise<Buffer> {
    const start = i * this.#t.blockSize;
    if (start >= this.#t.size) return Promise.resolve(Buffer.alloc(0));
    let block = this.#blocks.get(i);
    if (!block) {
      const end = Math.min(start + this.#t.blockSize, this.#t.size) - 1;
      block = this.#fetch(start, end);
      block.catch(() => this.#blocks.delete(i));
      this.#blocks.set(i, block);
    }
    return block;
  }

  async #fetch(start: number, end: number): Promise<Buffer> {
    const { client, bucket, key, etag } = this.#t;
    try {
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: etag }),
      );
      const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      if (bytes.length !== end - start + 1) throw new Error(`short ranged GET: ${bytes.length} bytes`);
      return bytes;
    } catch (err) {
      throw s3Error(err, 'download');
    }
  }
}
