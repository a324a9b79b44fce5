// One object being written: bytes gathered front to back into parts, a single PUT when small, a multipart upload when not.
import { createHash } from 'node:crypto';
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
import { ResumableSha256, type Sha256State } from '../../util/resumable-sha256.js';
import type { MultipartLedger, MultipartRecord, StoredPart } from './multipart-ledger.js';
import { isNotFound, s3Error, TAG_SHA256 } from './s3-paths.js';

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
  /** Where each part is recorded once stored, so the upload can be continued elsewhere after a crash. */
  readonly ledger?: MultipartLedger | undefined;
}

/** What the upload's digest needs: node:crypto's Hash, or the resumable one when parts are recorded. */
interface RunningHash {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
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
  #hash: RunningHash;
  /** With a ledger: the parts recorded (1..n without a gap), and acknowledged ones waiting for a gap to fill. */
  readonly #recorded: StoredPart[] = [];
  #recordedLength = 0;
  #recordedState: Sha256State | undefined;
  readonly #acked = new Map<number, { part: StoredPart; state: Sha256State }>();
  /** Ledger writes one after another, so an older record never replaces a newer one. */
  #ledgerChain: Promise<void> = Promise.resolve();
  #createdAt = new Date();
  #failure: unknown;
  /** Metadata the multipart upload was created with (it cannot change afterwards). */
  #createdWith: Record<string, string> | undefined;
  readonly #metadata: () => Record<string, string>;

  constructor(target: UploadTarget, metadata: () => Record<string, string>) {
    this.#t = target;
    this.#metadata = metadata;
    this.#hash = this.#newHash();
  }

  /**
   * Continues a multipart upload another process left open (it crashed, or its node died): the recorded parts
   * stay as they are in S3, the next part follows them, and the digest continues from the recorded state.
   */
  static resume(
    target: UploadTarget,
    record: MultipartRecord,
    metadata: () => Record<string, string>,
  ): S3Upload {
    const upload = new S3Upload(target, metadata);
    upload.#uploadId = record.uploadId;
    upload.#createdWith = { ...record.metadata };
    upload.#createdAt = record.createdAt;
    upload.#partStart = record.length;
    upload.#partsSent = record.parts.length;
    for (const p of record.parts) upload.#parts.push({ PartNumber: p.partNumber, ETag: p.etag });
    upload.#recorded.push(...record.parts);
    upload.#recordedLength = record.length;
    upload.#recordedState = record.sha256;
    upload.#hash = new ResumableSha256(record.sha256);
    return upload;
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
      const completed = this.#uploadId as string;
      this.#uploadId = undefined;
      await this.#ledgerChain;
      await this.#t.ledger?.remove(bucket, key, completed);
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
    // Never throws: this runs on paths that already fail; parts left behind are the sweeper's or the bucket
    // lifecycle rule's (docs/STORAGE.md).
    await abortMultipart(this.#t, this.#t.key, uploadId).catch(() => undefined);
    await this.#ledgerChain.catch(() => undefined);
    // A record left behind is found by the sweeper, which aborts again (harmless) and removes it.
    await this.#t.ledger?.remove(this.#t.bucket, this.#t.key, uploadId).catch(() => undefined);
  }

  #reset(): void {
    this.#fill = 0;
    this.#partStart = 0;
    this.#partsSent = 0;
    this.#parts.length = 0;
    this.#recorded.length = 0;
    this.#recordedLength = 0;
    this.#recordedState = undefined;
    this.#acked.clear();
    this.#hash = this.#newHash();
    this.#failure = undefined;
    this.#createdWith = undefined;
  }

  #newHash(): RunningHash {
    return this.#t.ledger ? new ResumableSha256() : createHash('sha256');
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #sendPart(last = false): Promise<void> {
    const body = (this.#buf as Buffer).subarray(0, this.#fill);
    this.#hash.update(body);
    // The digest's state after this part: recorded with the part, once S3 holds it and every part before it.
    const state = this.#hash instanceof ResumableSha256 ? this.#hash.state() : undefined;
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
      this.#createdAt = new Date();
      this.#recordedState = new ResumableSha256().state();
      // Recorded at once: a crash before the first part still leaves something for the sweeper to abort.
      if (this.#t.ledger) await this.#record();
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
      .then(async (out) => {
        const etag = out.ETag ?? '';
        this.#parts.push({ PartNumber: partNumber, ETag: etag });
        if (state) await this.#acknowledged({ partNumber, etag, size: body.length }, state);
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

  /** Adds the parts that now follow the recorded ones without a gap, and records the upload's new reach. */
  async #acknowledged(part: StoredPart, state: Sha256State): Promise<void> {
    this.#acked.set(part.partNumber, { part, state });
    const before = this.#recorded.length;
    for (let next = this.#acked.get(before + 1); next; next = this.#acked.get(this.#recorded.length + 1)) {
      this.#acked.delete(next.part.partNumber);
      this.#recorded.push(next.part);
      this.#recordedLength += next.part.size;
      this.#recordedState = next.state;
    }
    if (this.#recorded.length > before) await this.#record();
  }

  /** Saves the record as it is now, after any save still running. */
  #record(): Promise<void> {
    const ledger = this.#t.ledger;
    const uploadId = this.#uploadId;
    const state = this.#recordedState;
    if (!ledger || uploadId === undefined || !state) return Promise.resolve();
    const record: MultipartRecord = {
      bucket: this.#t.bucket,
      key: this.#t.key,
      uploadId,
      partSize: this.#t.partSize,
      parts: [...this.#recorded],
      length: this.#recordedLength,
      sha256: state,
      metadata: { ...this.#createdWith },
      createdAt: this.#createdAt,
      updatedAt: new Date(),
    };
    const saving = this.#ledgerChain.then(() => ledger.save(record));
    this.#ledgerChain = saving.catch(() => undefined);
    return saving;
  }
}

/** Aborts a multipart upload (S3 frees its parts); one already gone (NoSuchUpload, 404) counts as aborted. */
export async function abortMultipart(
  t: Pick<UploadTarget, 'client' | 'bucket'>,
  key: string,
  uploadId: string,
): Promise<void> {
  try {
    await t.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    // A missing bucket is a 404 too, and no proof the upload is gone.
    const name = (err as { name?: string }).name;
    if (name === 'NoSuchUpload' || (name !== 'NoSuchBucket' && isNotFound(err))) return;
    throw s3Error(err, 'abort upload');
  }
}

async function send<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw s3Error(err, what);
  }
}
