// One open file of a session: reads, writes and checksums through the handle, and an upload's completion on close.
import { InvalidArgumentError, PermissionDeniedError, toFerryError, UnsupportedError } from '../errors.js';
import { type ByteChunks, byteLength } from '../util/byte-chunks.js';
import { canDo } from '../vfs/types.js';
import { checkRange, checksumOfHandle } from './check-file.js';
import { hashRange, type RangeSource, UploadDigest } from './digest.js';
import type { HandleHost, OpenedFile } from './handle-host.js';
import type { ChecksumRequest, FileHandle, FileStat, HashAlgorithm, OpenMode, SetAttrs } from './types.js';
import { admissionOf } from './upload-admission.js';
import { closeAndHash, discardIncomplete, failureReason } from './upload-close.js';
import { UploadFailure } from './upload-failure.js';

export type { HandleHost, OpenedFile } from './handle-host.js';

/** Largest single read served; bounds memory per request whatever length a client asks for. */
export const MAX_READ_LENGTH = 1024 * 1024;

import type { TransferProgress } from './active-transfers.js';

export class SessionFileHandle implements FileHandle {
  readonly path: string;
  readonly mode: Readonly<OpenMode>;
  readonly #host: HandleHost;
  readonly #o: OpenedFile;
  readonly #openedAt = Date.now();
  readonly #digest: UploadDigest;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** End of file as this handle knows it; append-mode writes land here. */
  #end: number;
  #bytesRead = 0;
  #bytesWritten = 0;
  #firstRead: number | undefined;
  #firstWrite: number | undefined;
  /** Highest offset a read started at; a backend without random reads only moves forward. */
  #lastReadAt = 0;
  /** Set when a leftover partial is being restarted from 0; every write waits for the truncation. */
  #restart: Promise<void> | undefined;
  /** The first storage failure of an upload through this handle (see upload-failure.ts). */
  readonly #failure: UploadFailure;
  #closed = false;

  constructor(host: HandleHost, opened: OpenedFile) {
    this.#host = host;
    this.#o = opened;
    this.path = opened.path;
    this.mode = Object.freeze({ ...opened.mode });
    this.#end = opened.sizeAtOpen;
    this.#digest = new UploadDigest(opened.sizeAtOpen, this.#byDescriptor, host.log, (length) =>
      opened.file.resumeSha256?.(length),
    );
    this.#failure = new UploadFailure(host.log, opened.path, this.mode.write);
  }

  /** The backend path this handle reads and writes (for same-file checks in copyData). */
  get backendPath(): string {
    return this.#o.backendPath;
  }

  /** Virtual directories whose permissions govern this file's content (as named and where it really is). */
  get permissionDirs(): readonly string[] {
    return this.#o.permissionDirs;
  }

  /** Upload or download through this handle so far (undefined until a byte moved); read by the session list. */
  progress(): TransferProgress | undefined {
    if (this.#closed) return undefined;
    const up = this.#bytesWritten > 0;
    if (!up && this.#bytesRead === 0) return undefined;
    const direction = up ? 'upload' : 'download';
    const bytes = up ? this.#bytesWritten : this.#bytesRead;
    return { direction, path: this.path, bytes, startedAt: new Date(this.#openedAt) };
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  read(offset: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    return this.#track(async () => {
      this.#assertOpen();
      if (!this.mode.read) throw new PermissionDeniedError('Handle is not open for reading');
      checkRange(offset, length);
      checkRange(headroom, 0);
      if (offset < this.#lastReadAt && !canDo(this.#host.fs, 'randomReads')) {
        throw new UnsupportedError('This storage reads files front to back only');
      }
      this.#lastReadAt = offset;
      let data = await this.#o.file.read(offset, Math.min(length, MAX_READ_LENGTH), headroom, into);
      const allowance = this.#host.transferAllowance;
      if (allowance && data.length > headroom) {
        // Cut at what the transfer quota leaves; the next read, with nothing left, is refused.
        const granted = await allowance.takeDownload(data.length - headroom);
        if (granted < data.length - headroom) data = data.subarray(0, headroom + granted);
      }
      this.#firstRead ??= offset;
      this.#bytesRead += data.length - headroom;
      await this.#host.throttle?.download?.take(data.length - headroom, this.#host.signal);
      return data;
    });
  }

  write(offset: number, data: ByteChunks): Promise<void> {
    // Position and digest bookkeeping happen synchronously so concurrent writes keep call order.
    const length = byteLength(data);
    try {
      this.#assertOpen();
      if (!this.mode.write) throw new PermissionDeniedError('Handle is not open for writing');
      if (this.#failure.error) throw this.#failure.error;
      checkRange(offset, length);
      this.#host.checkFileSize((this.mode.append ? this.#end : offset) + length);
    } catch (err) {
      return Promise.reject(toFerryError(err));
    }
    const position = this.mode.append ? this.#end : offset;
    if (
      this.#firstWrite === undefined &&
      position === 0 &&
      this.#o.continuesPartial &&
      this.#o.sizeAtOpen > 0
    ) {
      // Writing a leftover partial from 0 is a new upload by a client that did not ask for O_TRUNC, not
      // a resume (a resume starts at the partial's size): empty it first so no stale tail survives.
      this.#restart = this.#o.file.truncate(0);
      this.#end = 0;
    }
    try {
      this.#checkSequential(position);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#end = Math.max(this.#end, position + length);
    this.#firstWrite ??= position;
    const upload = this.#host.throttle?.upload;
    if (upload) {
      return this.#track(async () => {
        await upload.take(length, this.#host.signal);
        await this.#writeAt(position, data, length, true);
      });
    }
    return this.#track(() => this.#writeAt(position, data, length, true));
  }

  /** Server-side copy write: feeds the digest but is not client transfer volume. Caller checked the mode. */
  copyWrite(position: number, data: Buffer): Promise<void> {
    return this.#track(async () => {
      this.#assertOpen();
      if (this.#failure.error) throw this.#failure.error;
      this.#host.checkFileSize(position + data.length);
      this.#checkSequential(position);
      this.#end = Math.max(this.#end, position + data.length);
      await this.#writeAt(position, data, data.length, false);
    });
  }

  /** Server-side copy read: not client transfer volume. Caller checked the mode. */
  copyRead(offset: number, length: number): Promise<Buffer> {
    return this.#track(async () => {
      this.#assertOpen();
      return this.#o.file.read(offset, Math.min(length, MAX_READ_LENGTH));
    });
  }

  /**
   * On a backend without random writes a write must start where the file ends; any other position fails the
   * whole upload (nothing published, the partial removed) instead of leaving a file with a hole in it.
   */
  #checkSequential(position: number): void {
    if (position === this.#end || canDo(this.#host.fs, 'randomWrites')) return;
    throw this.#failure.record(
      new UnsupportedError('This storage writes files front to back only (write out of order)'),
      'write',
    );
  }

  async #writeAt(position: number, data: ByteChunks, length: number, account: boolean): Promise<void> {
    const hashed = this.#digest.observe(position, data);
    try {
      // The client's bytes count against its transfer quota before they are stored; a refusal fails the upload
      // (its partial removed on close) like a full disk. Nothing more is counted once the upload has failed.
      if (account && this.#host.transferAllowance) {
        if (this.#failure.error) throw this.#failure.error;
        await this.#host.transferAllowance.takeUpload(length);
      }
      if (this.#restart) await this.#restart;
      await this.#o.file.write(position, data);
    } catch (err) {
      this.#digest.invalidate();
      throw this.#failure.record(err, 'write');
    }
    await hashed;
    if (account) this.#bytesWritten += length;
  }

  stat(): Promise<FileStat> {
    return this.#track(async () => {
      this.#assertOpen();
      return this.#host.toFileStat(await this.#o.file.stat());
    });
  }

  setstat(attrs: SetAttrs): Promise<void> {
    return this.#track(async () => {
      this.#assertOpen();
      try {
        const dirs = this.#o.permissionDirs;
        if (attrs.mode !== undefined) this.#host.require('chmod', dirs);
        if (attrs.mode !== undefined && !canDo(this.#host.fs, 'modes')) {
          throw new UnsupportedError('This storage keeps no permission bits');
        }
        if (attrs.atime !== undefined || attrs.mtime !== undefined) this.#host.require('chtimes', dirs);
        // Writable handles already passed upload/overwrite at open; read-only ones may not resize.
        if (attrs.size !== undefined && !this.mode.write) {
          throw new PermissionDeniedError('Handle is not open for writing');
        }
        // uid/gid are ignored on purpose: ownership is not changeable through Ferry (the server owns all files).
        const file = this.#o.file;
        if (attrs.size !== undefined) {
          checkRange(attrs.size, 0);
          this.#host.checkFileSize(attrs.size);
          this.#digest.invalidate();
          await file.truncate(attrs.size);
          this.#end = attrs.size;
        }
        if (attrs.mode !== undefined) await file.chmod(attrs.mode & 0o777); // never setuid, setgid or sticky
        if (attrs.atime !== undefined || attrs.mtime !== undefined) {
          const current = await file.stat();
          await file.utimes(attrs.atime ?? current.atimeMs / 1000, attrs.mtime ?? current.mtimeMs / 1000);
        }
        this.#host.emitSetstat(this.path, attrs);
      } catch (err) {
        this.#host.emitSetstat(this.path, attrs, err);
        throw err;
      }
    });
  }

  sync(): Promise<void> {
    return this.#track(async () => {
      this.#assertOpen();
      if (this.#failure.error) throw this.#failure.error;
      try {
        await this.#o.file.sync();
      } catch (err) {
        // A failed fsync may have dropped written pages: the content can no longer be trusted.
        throw this.#failure.record(err, 'sync');
      }
    });
  }

  hash(algorithm: HashAlgorithm, offset: number, length: number): Promise<Buffer> {
    return this.#track(async () => {
      this.#assertOpen();
      this.#host.require('download', this.#o.permissionDirs);
      checkRange(offset, length);
      return hashRange((p, n) => this.#o.file.read(p, n), algorithm, offset, length);
    });
  }

  checksum(request: ChecksumRequest, options: { signal?: AbortSignal } = {}): Promise<Buffer[]> {
    const on = {
      host: this.#host,
      opened: this.#o,
      path: this.path,
      byDescriptor: this.#byDescriptor,
      assertOpen: () => this.#assertOpen(),
    };
    return this.#track(() => checksumOfHandle(on, request, options.signal));
  }

  close(): Promise<void> {
    return this.#finish(true);
  }

  /** Session end: closes without completing; an atomic upload stays a partial for resume. */
  abort(): Promise<void> {
    return this.#finish(false);
  }

  async #finish(complete: boolean): Promise<void> {
    if (this.#closed) {
      if (complete) throw new InvalidArgumentError('Handle already closed');
      return;
    }
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    const o = this.#o;
    // Completing a continued partial publishes it even with no byte written now: an upload (event, audit, SHA-256).
    const isUpload = this.#bytesWritten > 0 || o.createdNew || (complete && o.continuesPartial === true);
    const admission = admissionOf(this.#host.fs);
    let failure: unknown;
    let sha256: string | undefined;
    try {
      if (this.#failure.error === undefined) {
        sha256 = await this.#complete(complete, isUpload);
        // Publishing without an audit record is what the admission forbids; the partial stays for a resume.
        if (complete && o.finalPath !== undefined) {
          admission?.check();
          await this.#host.fs.rename(o.backendPath, o.finalPath);
        }
      } else {
        await o.file.close();
      }
    } catch (err) {
      failure = err;
    } finally {
      try {
        // Before the claim is released: a new upload of the same name must not lose its fresh partial.
        if (this.#failure.error !== undefined) await discardIncomplete(this.#o, this.#host, this.path);
      } finally {
        // A digest not asked for (a failed or abandoned upload) stops its hashing thread, if it has one.
        this.#digest.release();
        o.releaseClaim?.();
        this.#host.released(this);
      }
    }
    failure = this.#failure.error ?? failure;
    if (isUpload || this.#bytesRead > 0) {
      const committed = complete && isUpload && failure === undefined ? admission?.watch() : undefined;
      const emitted = this.#host.emitTransfer({
        direction: isUpload ? 'upload' : 'download',
        path: this.path,
        bytes: isUpload ? this.#bytesWritten : this.#bytesRead,
        durationMs: Date.now() - this.#openedAt,
        ...(sha256 !== undefined && failure === undefined ? { sha256 } : {}),
        resumedFrom: isUpload
          ? o.createdNew
            ? 0
            : (this.#firstWrite ?? o.sizeAtOpen)
          : (this.#firstRead ?? 0),
        completed: complete && failure === undefined,
        ...(failure !== undefined ? { error: failureReason(failure) } : {}),
      });
      // The front end replies to the client's close only after this returns: an upload the client
      // saw succeed is then already in the committed audit trail. Downloads and aborts do not wait.
      if (complete && isUpload) await emitted;
      // emitTransfer never rejects, so a record that could not be committed shows in the audit health.
      // The file is already in place then: the client is told the upload did not complete, and the
      // audit writer has logged the lost record (path, size, hash) for the operator.
      try {
        committed?.();
      } catch (err) {
        this.#host.log.error({ err, path: this.path }, 'upload stored, but its audit record was not written');
        failure = err;
      }
    }
    if (failure !== undefined) {
      if (!complete) {
        this.#host.log.warn({ err: failure, path: this.path }, 'closing a file at session end failed');
        return;
      }
      throw toFerryError(failure);
    }
  }

  /** Closes the backend file and returns the SHA-256 of an upload; a failing close fails the upload. */
  async #complete(complete: boolean, isUpload: boolean): Promise<string | undefined> {
    try {
      const how = {
        digest: this.#digest,
        host: this.#host,
        path: this.path,
        byDescriptor: this.#byDescriptor,
      };
      return await closeAndHash(this.#o, how, complete, isUpload);
    } catch (err) {
      // Network and some local filesystems report lost writes only here (close returns the deferred error).
      throw this.#failure.record(err, 'close');
    }
  }

  /**
   * Reads through the handle's own descriptor, which the session always opens readable: a reopen by name
   * could follow a link swapped in since, and would make a write-only handle a read oracle for another file.
   */
  readonly #byDescriptor: RangeSource = (use) =>
    use((position, length) => this.#o.file.read(position, length));

  #assertOpen(): void {
    if (this.#closed) throw new InvalidArgumentError('Handle is closed');
  }

  #track<T>(op: () => Promise<T>): Promise<T> {
    const run = (async () => {
      try {
        return await op();
      } catch (err) {
        throw toFerryError(err);
      }
    })();
    this.#inFlight.add(run);
    const forget = () => this.#inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }
}
