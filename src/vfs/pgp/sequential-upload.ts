// What the encrypt-folder uploads written as SEIPD packets share: only ciphertext reaches the stored file, front to back.
import { UnsupportedError } from '../../errors.js';
import { withFields } from '../../util/with-fields.js';
import type { FsFile, FsStat } from '../types.js';
import { SEQUENTIAL_ONLY } from './encrypting-file.js';

/**
 * Writes in order from 0 only, `stat` shows the plaintext accepted so far, reads are refused; the first failure
 * is kept and fails every later call. Subclasses say how writes reach `inner` and how the message ends (`end`).
 */
export abstract class SequentialUpload {
  protected readonly inner: FsFile;
  protected failure: Error | undefined;
  protected closed = false;

  protected constructor(inner: FsFile) {
    this.inner = inner;
  }

  /** Plaintext bytes accepted so far. */
  abstract get plaintextSize(): number;

  /** Where the next write must start: what was accepted, and what waits to be. */
  protected get nextPosition(): number {
    return this.plaintextSize;
  }

  get resolvedPath(): string | null | undefined {
    return this.inner.resolvedPath;
  }

  protected fail(err: Error): Error {
    this.failure ??= err;
    return this.failure;
  }

  async stat(): Promise<FsStat> {
    return withFields(await this.inner.stat(), { size: this.plaintextSize });
  }

  read(): Promise<Buffer> {
    return Promise.reject(new UnsupportedError('An upload being encrypted cannot be read back'));
  }

  async truncate(size: number): Promise<void> {
    // Clients that truncate to where they are (0 before writing) change nothing; anything else would need the plaintext.
    if (size !== this.nextPosition) throw this.fail(new UnsupportedError(SEQUENTIAL_ONLY));
  }

  chmod(mode: number): Promise<void> {
    return this.inner.chmod(mode);
  }

  utimes(atime: number, mtime: number): Promise<void> {
    return this.inner.utimes(atime, mtime);
  }

  /** Writes the rest of the message (or gives it up after a failure) and waits until `inner` is no longer used. */
  protected abstract end(): Promise<void>;

  /** Ends the message (last packets and the MDC) and closes the stored file; a failed upload fails here too. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.end();
      if (this.failure) throw this.failure;
    } finally {
      await this.inner.close();
    }
  }
}
