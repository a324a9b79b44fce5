// An upload's first storage failure: once the stored content is not what the client sent, the upload stays failed.
import { type FerryError, toFerryError } from '../errors.js';
import type { Logger } from '../logger.js';

/**
 * The first write, sync or close the storage failed (disk full, quota, I/O error), or the first write the
 * backend cannot do (out of order without random writes). From then on the content is not what the client
 * sent: later writes fail at once with this error, close() reports it, and the file is discarded rather
 * than published (see discardIncomplete in upload-close.ts).
 */
export class UploadFailure {
  #error: FerryError | undefined;

  constructor(
    private readonly log: Logger,
    private readonly path: string,
    /** Only a handle open for writing has an upload to fail. */
    private readonly writable: boolean,
  ) {}

  /** The recorded failure; undefined while the upload is sound. */
  get error(): FerryError | undefined {
    return this.#error;
  }

  /** Records the first failure (logged once, with its reason) and returns `err` as a FerryError. */
  record(err: unknown, during: 'write' | 'sync' | 'close'): FerryError {
    const error = toFerryError(err);
    if (this.#error === undefined && this.writable) {
      this.#error = error;
      // A refused out-of-order write is the client's choice meeting the backend's limits, not a fault.
      const level = error.code === 'ERR_UNSUPPORTED' ? 'warn' : 'error';
      this.log[level](
        { err, path: this.path, reason: error.message, during },
        `upload failed: ${error.message}`,
      );
    }
    return error;
  }
}
