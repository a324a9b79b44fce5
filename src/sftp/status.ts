// The server's side of the status table: any thrown value becomes the SFTP status sent to the client.
import {
  BudgetExceededError,
  FerryError,
  StorageError,
  TransferQuotaExceededError,
  toFerryError,
} from '../errors.js';
import { FX } from './wire/constants.js';
import { type SftpStatus, statusForErrorCode } from './wire/status.js';

/** A failure whose SFTP status is decided where it happens (bad handle, handle limit). */
export class SftpStatusError extends FerryError {
  readonly status: SftpStatus;
  constructor(status: SftpStatus) {
    super('ERR_INVALID_ARGUMENT', status.message);
    this.status = status;
  }
}

/** Maps any thrown value (FerryError, errno error, bug) to the status sent to the client. */
export function statusFromError(err: unknown): SftpStatus {
  if (err instanceof SftpStatusError) return err.status;
  const ferry = toFerryError(err);
  // Disk full, quota, I/O error: the message is strerror-like text from a fixed table, never a path.
  if (ferry instanceof StorageError) return { code: FX.FAILURE, message: ferry.message };
  // Budget messages name the resource and the limit, never a path: the user should see which one was hit.
  if (ferry instanceof BudgetExceededError) return { code: FX.FAILURE, message: ferry.message };
  // Likewise a transfer quota: the message names the limit (`the account may upload 10 GiB/day`).
  if (ferry instanceof TransferQuotaExceededError) return { code: FX.FAILURE, message: ferry.message };
  return statusForErrorCode(ferry.code);
}
