// One object being written: bytes gathered front to back into parts, a single PUT when small, a multipart upload when not.
import { createHash, type Hash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { UnsupportedError } from '../../errors.js';
import { s3Error, TAG_SHA256 } from './s3-paths.js';

/** S3's smallest part (all but the last); smaller parts are refused by CompleteMultipartUpload. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** A zero-filled block for extending truncations, shared and never written to. */
const ZEROS = Buffer.alloc(64 * 1024);

export interface UploadTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** Bytes per part; the memory an upload holds is about partSize × (1 + maxInFlight). */
  readonly partSize: number;
  /** Parts sent at once; a write waits (back-pressure) while this many are in flight. */
  readonly maxInFlight: number;
}

/**
 * The bytes of a new object version, appended in order. Memory stays bounded: one part being filled and at most
 * maxInFlight parts on their way. Nothing is visible under the key until complete(): an upload that is aborted
 * or never completed leaves the previous object (or none) as it was.
 */
export class S3Upload {
  readonly #t: UploadTarget;
  #buf: Buffer | undefined;
  #fill = 0;
  /** Logical offset of #buf[0]: the bytes before it are in parts already sent. */
  #partStart = 0;
  #uploadId: string | undefined;
  #partsSent = 0;
  readonly #parts: { PartNumber: number; ETag: string }[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  /** SHA-256 of the bytes handed to parts, in order (parts never change once sent). */
  #hash: Hash = createHash('sha256');
  #failure: unknown;
  /** Metadata the multipart upload was created with (it cannot change afterwards). */
  #createdWith: Record<string, string> | undefined;
  readonly #metadata: () => Record<string, string>;

  constructor(target: UploadTarget, metadata: () => Record<string, string>) {
    this.#t = target;
    this.#metadata = metadata;
  }

  get end(): number {
    return this.#partStart + this.#fill;
  }

  /** Whether the bytes [position, position + length) are still in memory (not yet sent as a part). */
  readBack(position: number, length: number): Buffer | undefined {
    const end = Math.min(position + length, this.end);
    if (position >= end) return Buffer.alloc(0);
    if (position < this.#partStart || !this.#buf) return undefined;
    return this.#buf.subarray(position - this.#partStart, end - this.#partStart);
  }

  /** Copies the chunks in (the caller may reuse them once this resolves), sending each part as it fills. */
  async append(chunks: readonly Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      let at = 0;
      while (at < chunk.length) {
        this.#throwIfFailed();
        this.#buf ??= Buffer.allocUnsafe(this.#t.partSize);
        const n = chunk.copy(this.#buf, this.#fill, at);
        this.#fill += n;
        at += n;
        if (this.#fill === this.#t.partSize) await this.#sendPart();
      }
    }
  }

  /** Cuts or zero-extends to `size`; only within the part in memory, or back to empty. */
  async truncate(size: number): Promise<void> {
    if (size === 0 && this.#partStart > 0) {
      await this.abort();
      this.#reset();
      return;
    }
    if (size < this.#partStart) {
      throw new UnsupportedError('This storage cannot shorten an upload into parts already sent');
    }
    if (size <= this.end) {
      this.#fill = size - this.#partStart;
      return;
    }
    for (let missing = size - this.end; missing > 0; missing -= ZEROS.length) {
      await this.append([ZEROS.subarray(0, Math.min(missing, ZEROS.length))]);
    }
  }

  /**
   * Publishes the object: one PUT when it never reached a part, else the last part and CompleteMultipartUpload;
   * then the SHA-256 as an object tag. Returns the digest and whether the metadata given at creation is stale.
   */
  async complete(): Promise<{ sha256: string; metadataStale: boolean }> {
    this.#throwIfFailed();
    const { client, bucket, key } = this.#t;
    const tail = this.#buf ? this.#buf.subarray(0, this.#fill) : Buffer.alloc(0);
    let metadataStale = false;
    if (this.#uploadId === undefined) {
      this.#hash.update(tail);
      await send('upload', () =>
        client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: tail, Metadata: this.#metadata() }),
        ),
      );
    } else {
      if (this.#fill > 0) await this.#sendPart(true);
      await Promise.all(this.#inFlight);
      this.#throwIfFailed();
      const parts = [...this.#parts].sort((a, b) => a.PartNumber - b.PartNumber);
      await send('upload', () =>
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: this.#uploadId,
            MultipartUpload: { Parts: parts },
          }),
        ),
      );
      this.#uploadId = undefined;
      metadataStale = JSON.stringify(this.#createdWith) !== JSON.stringify(this.#metadata());
    }
    const sha256 = this.#hash.digest('hex');
    await send('tagging', () =>
      client.send(
        new PutObjectTaggingCommand({
          Bucket: bucket,
          Key: key,
          Tagging: { TagSet: [{ Key: TAG_SHA256, Value: sha256 }] },
        }),
      ),
    );
    this.#buf = undefined;
    return { sha256, metadataStale };
  }

  /** Drops the multipart upload (its parts are freed by S3); nothing was published. Never throws. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.#inFlight);
    const uploadId = this.#uploadId;
    this.#uploadId = undefined;
    this.#buf = undefined;
    if (uploadId === undefined) return;
    await this.#t.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.#t.bucket, Key: this.#t.key, UploadId: uploadId }))
      .catch(() => undefined);
  }

  #reset(): void {
    this.#fill = 0;
    this.#partStart = 0;
    this.#partsSent = 0;
    this.#parts.length = 0;
    this.#hash = createHash('sha256');
    this.#failure = undefined;
    this.#createdWith = undefined;
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #sendPart(last = false): Promise<void> {
    const body = (this.#buf as Buffer).subarray(0, this.#fill);
    this.#hash.update(body);
    this.#partStart += this.#fill;
    this.#fill = 0;
    this.#buf = last ? undefined : Buffer.allocUnsafe(this.#t.partSize);
    const { client, bucket, key } = this.#t;
    if (this.#uploadId === undefined) {
      this.#createdWith = this.#metadata();
      const created = await send('upload', () =>
        client.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata: this.#createdWith }),
        ),
      );
      this.#uploadId = created.UploadId;
    }
    const partNumber = ++this.#partsSent;
    const uploadId = this.#uploadId;
    const sending: Promise<void> = send('upload', () =>
      client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
        }),
      ),
    )
      .then((out) => {
        this.#parts.push({ PartNumber: partNumber, ETag: out.ETag ?? '' });
      })
      .catch((err: unknown) => {
        this.#failure ??= err;
      })
      .finally(() => this.#inFlight.delete(sending));
    this.#inFlight.add(sending);
    // Back-pressure: the writer waits until a slot is free, so memory stays at a few parts.
    while (this.#inFlight.size >= this.#t.maxInFlight) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
  }
}

async function send<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw s3Error(err, what);
  }
}
