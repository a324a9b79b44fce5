// The end of an upload: the close-time SHA-256 (streamed through the handle's descriptor), and discarding one that failed.
import { AuditUnavailableError, StorageError, toFerryError } from '../errors.js';
import { hashRange, type RangeSource, type UploadDigest } from './digest.js';
import type { HandleHost, OpenedFile } from './handle-host.js';

/** What closing needs from the handle. */
export interface CloseContext {
  readonly digest: UploadDigest;
  readonly host: HandleHost;
  readonly path: string;
  readonly byDescriptor: RangeSource;
}

/**
 * Closes the backend file and returns the SHA-256 of an upload (none when it was not one, or was written out
 * of order past maxHashBytes). Errors of the hash or the close are thrown as they come.
 */
export async function closeAndHash(
  o: OpenedFile,
  how: CloseContext,
  complete: boolean,
  isUpload: boolean,
): Promise<string | undefined> {
  let sha256: string | undefined;
  try {
    if (isUpload) {
      const size = (await o.file.stat()).size;
      sha256 = await how.digest.digestFor(size);
      // Out-of-order writes: hash what is on disk, streamed through this descriptor before it closes.
      if (sha256 === undefined && complete && size <= how.host.maxHashBytes) {
        sha256 = (await how.byDescriptor((read) => hashRange(read, 'sha256', 0, 0))).toString('hex');
      } else if (sha256 === undefined && complete) {
        // A write at a huge offset must not buy minutes of hashing; the record then carries no SHA-256.
        how.host.log.info(
          { path: how.path, size },
          'out-of-order upload larger than maxHashBytes: not hashed',
        );
      }
    }
  } finally {
    await o.file.close();
  }
  return sha256;
}

/**
 * A file whose writes failed must never look complete. The partial of an atomic upload is removed
 * (a hole or a stale range could otherwise be resumed into a corrupt file). A file this handle created
 * or truncated in direct mode holds nothing but the incomplete upload: it is removed too, so nobody
 * (people or automation watching the directory) takes it for the file sent. A file that existed and was
 * written in place (random writes, appends) cannot be restored: it stays, the failure logged and audited.
 */
export async function discardIncomplete(o: OpenedFile, host: HandleHost, path: string): Promise<void> {
  if (o.finalPath === undefined && !o.createdNew) {
    host.log.warn({ path }, 'file written in place is incomplete after a storage failure');
    return;
  }
  try {
    await host.fs.unlink(o.backendPath);
  } catch (err) {
    host.log.error({ err, path }, 'could not remove the incomplete upload');
  }
}

/** The reason recorded for a failed transfer: fixed texts for storage and audit failures, else only the code (messages may carry backend paths). */
export function failureReason(failure: unknown): string {
  const error = toFerryError(failure);
  return error instanceof StorageError || error instanceof AuditUnavailableError ? error.message : error.code;
}
