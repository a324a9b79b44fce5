// An open S3 object: reads through ranged GETs, writes front to back into an S3Upload published on close.
import { FerryError, UnsupportedError } from '../../errors.js';
import { type ByteChunks, byteLength, chunksOf } from '../../util/byte-chunks.js';
import { ResumableSha256 } from '../../util/resumable-sha256.js';
import type { FsFile, FsStat } from '../types.js';
import type { MultipartRecord } from './multipart-ledger.js';
import type { RangeReader } from './s3-reader.js';
import type { S3Upload } from './s3-upload.js';

/** What the file knows of the object as it was when opened (absent for a new one). */
export interface ObjectInfo {
  readonly size: number;
  readonly etag: string | undefined;
  readonly mtimeMs: number;
  readonly atimeMs: number;
  /** Not an object: a multipart upload left open by a process that died, continued by the first write. */
  readonly pending?: MultipartRecord | undefined;
}

/** What an open file needs from its backend. */
export interface S3FileHost {
  newUpload(key: string, metadata: () => Record<string, string>, resume?: MultipartRecord): S3Upload;
  /** Aborts an upload left open that this file will not continue (it was truncated away). */
  abandon(record: MultipartRecord): Promise<void>;
  newReader(key: string, info: ObjectInfo): RangeReader;
  /** Rewrites the object's times (a copy onto itself with new metadata). */
  setTimes(key: string, atime: number, mtime: number): Promise<void>;
  readonly partSize: number;
  fileStat(size: number, mtimeMs: number, atimeMs: number): FsStat;
}

export class S3File implements FsFile {
  readonly resolvedPath: string;
  readonly #host: S3FileHost;
  readonly #key: string;
  readonly #writable: boolean;
  /** The object as opened; dropped once a truncation or rewrite makes it irrelevant. */
  #base: ObjectInfo | undefined;
  #reader: RangeReader | undefined;
  #upload: S3Upload | undefined;
  /** End of file as the calls so far leave it (judged at call time, like the writes). */
  #end: number;
  /** A new version must be published on close (written, truncated, or created). */
  #dirty: boolean;
  #times: { atime: number; mtime: number } | undefined;
  /** How much of the object as opened the new version keeps (truncations lower it). */
  #baseKept: number;
  /** Mutations run one after another in call order; reads of written data wait for them. */
  #chain: Promise<void> = Promise.resolve();
  #failure: unknown;
  #closed = false;

  constructor(
    host: S3FileHost,
    key: string,
    path: string,
    base: ObjectInfo | undefined,
    options: { writable: boolean; truncate: boolean },
  ) {
    this.#host = host;
    this.#key = key;
    this.resolvedPath = path;
    this.#writable = options.writable;
    this.#base = options.truncate ? undefined : base;
    this.#end = this.#base?.size ?? 0;
    this.#baseKept = this.#end;
    // An upload left open is completed on close even when nothing more is written (its parts were the whole file).
    this.#dirty =
      options.writable && (options.truncate || base === undefined || this.#base?.pending !== undefined);
  }

  /**
   * The SHA-256 of the first `length` bytes, when they are the recorded parts of an upload left open: they cannot
   * be read back before the upload completes, so the digest continues from the state recorded with them.
   */
  resumeSha256(length: number): ResumableSha256 | undefined {
    const pending = this.#base?.pending;
    if (!pending || length !== pending.length || this.#baseKept !== pending.length) return undefined;
    return new ResumableSha256(pending.sha256);
  }

  read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    if (this.#upload === undefined && !this.#dirty && !this.#base?.pending) {
      if (!this.#base) return emptyRead(headroom, into);
      return this.#baseReader(this.#base).read(position, length, headroom, into);
    }
    return this.#queue(false, async () => {
      if (into && into.length < headroom + length) {
        throw new FerryError('ERR_INVALID_ARGUMENT', 'read buffer too small');
      }
      // The bytes kept from the object as opened are still there in S3 (a resume digest reads them); the parts of
      // an upload left open are not readable until it completes (resumeSha256 spares the digest that read).
      const kept = Math.min(this.#baseKept, this.#end);
      if (this.#base?.pending && position < kept) {
        throw new UnsupportedError(
          'This storage cannot read back an upload in progress that was already sent',
        );
      }
      const fromBase =
        this.#base && position < kept
          ? await this.#baseReader(this.#base).read(position, Math.min(length, kept - position))
          : Buffer.alloc(0);
      const rest = length - fromBase.length;
      const upload = this.#upload;
      const tail = rest > 0 && upload ? upload.readBack(position + fromBase.length, rest) : Buffer.alloc(0);
      if (tail === undefined) {
        throw new UnsupportedError(
          'This storage cannot read back an upload in progress that was already sent',
        );
      }
      const n = fromBase.length + tail.length;
      const out = into ? into.subarray(0, headroom + n) : Buffer.allocUnsafe(headroom + n);
      fromBase.copy(out, headroom);
      tail.copy(out, headroom + fromBase.length);
      return out;
    });
  }

  write(position: number, data: ByteChunks): Promise<void> {
    // Judged when called, not when run: pipelined writes arrive in order and must be judged in that order.
    if (!this.#writable)
      return Promise.reject(new FerryError('ERR_PERMISSION_DENIED', 'File not open for writing'));
    if (position !== this.#end) {
      return Promise.reject(
        new UnsupportedError(
          `This storage writes files front to back only (write at ${position}, end ${this.#end})`,
        ),
      );
    }
    this.#end += byteLength(data);
    this.#dirty = true;
    return this.#queue(true, async () => (await this.#uploadOf()).append(chunksOf(data)));
  }

  truncate(size: number): Promise<void> {
    if (!this.#writable)
      return Promise.reject(new FerryError('ERR_PERMISSION_DENIED', 'File not open for writing'));
    const dropBase = size === 0 && this.#upload === undefined;
    this.#end = size;
    this.#baseKept = Math.min(this.#baseKept, size);
    this.#dirty = true;
    return this.#queue(true, async () => {
      if (dropBase) {
        // Emptied before anything was loaded: the old bytes are not needed (an upload left open is dropped).
        if (this.#base?.pending) await this.#host.abandon(this.#base.pending);
        this.#base = undefined;
      }
      await (await this.#uploadOf()).truncate(size);
    });
  }

  async stat(): Promise<FsStat> {
    await this.#chain.catch(() => undefined);
    const now = Date.now();
    const mtimeMs = this.#times ? this.#times.mtime * 1000 : this.#dirty ? now : (this.#base?.mtimeMs ?? now);
    const atimeMs = this.#times ? this.#times.atime * 1000 : (this.#base?.atimeMs ?? mtimeMs);
    return this.#host.fileStat(this.#end, mtimeMs, atimeMs);
  }

  chmod(): Promise<void> {
    return Promise.reject(new UnsupportedError('This storage keeps no permission bits'));
  }

  async utimes(atime: number, mtime: number): Promise<void> {
    this.#times = { atime, mtime };
  }

  async sync(): Promise<void> {
    await this.#chain;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Publishes what was written (or the new times); an upload that failed is aborted and never published. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader?.close();
    await this.#chain.catch(() => undefined);
    if (this.#failure !== undefined) {
      await this.#upload?.abort();
      throw this.#failure;
    }
    if (this.#dirty) {
      const upload = await this.#uploadOf();
      try {
        const { metadataStale } = await upload.complete();
        if (metadataStale && this.#times) {
          await this.#host.setTimes(this.#key, this.#times.atime, this.#times.mtime);
        }
      } catch (err) {
        await upload.abort();
        throw err;
      }
    } else if (this.#times && this.#base) {
      await this.#host.setTimes(this.#key, this.#times.atime, this.#times.mtime);
    }
  }

  #baseReader(base: ObjectInfo): RangeReader {
    this.#reader ??= this.#host.newReader(this.#key, base);
    return this.#reader;
  }

  /** Metadata a new version is stored with: the times, when someone set them. */
  #metadata = (): Record<string, string> =>
    this.#times ? { 'ferry-atime': String(this.#times.atime), 'ferry-mtime': String(this.#times.mtime) } : {};

  /**
   * The upload of the new version. Continuing an existing object (append, resume) first streams its bytes
   * into the upload through ranged GETs, part by part: nothing is re-sent by the client, memory stays bounded.
   */
  async #uploadOf(): Promise<S3Upload> {
    if (this.#upload) return this.#upload;
    const base = this.#base;
    if (base?.pending) {
      // Continued where the recorded parts end: nothing of them is read or sent again.
      this.#upload = this.#host.newUpload(this.#key, this.#metadata, base.pending);
      return this.#upload;
    }
    const upload = this.#host.newUpload(this.#key, this.#metadata);
    if (base && base.size > 0) {
      const reader = this.#host.newReader(this.#key, base);
      const step = this.#host.partSize;
      for (let at = 0; at < base.size; at += step) await upload.append([await reader.read(at, step)]);
      reader.close();
    }
    this.#upload = upload;
    return upload;
  }

  /** Runs `op` after every earlier call; a failed mutation fails the upload (later writes and close see it). */
  #queue<T>(mutates: boolean, op: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new FerryError('ERR_INVALID_ARGUMENT', 'File is closed'));
    const run = this.#chain.then(() => {
      if (this.#failure !== undefined) throw this.#failure;
      return op();
    });
    this.#chain = run.then(
      () => undefined,
      (err: unknown) => {
        if (mutates) this.#failure ??= err;
      },
    );
    return run;
  }
}

function emptyRead(headroom: number, into?: Buffer): Promise<Buffer> {
  return Promise.resolve(into ? into.subarray(0, headroom) : Buffer.alloc(headroom));
}
