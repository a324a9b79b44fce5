// FTP reply codes for every failure, decided once here (RFC 959 §4.2): the file commands throw, the control
// connection answers with what this table says. Messages are fixed per code and never carry a path.
import {
  BudgetExceededError,
  type FerryErrorCode,
  StorageError,
  TransferQuotaExceededError,
  toFerryError,
} from '../errors.js';

export interface FtpReply {
  readonly code: number;
  readonly text: string;
}

/** A refusal whose reply is decided where it happens (a command out of sequence, a bad argument). */
export class FtpReplyError extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
  ) {
    super(text);
  }
}

const BY_CODE: Readonly<Record<FerryErrorCode, FtpReply>> = {
  ERR_NOT_FOUND: { code: 550, text: 'No such file or directory' },
  ERR_PERMISSION_DENIED: { code: 550, text: 'Permission denied' },
  ERR_ALREADY_EXISTS: { code: 550, text: 'File exists' },
  ERR_NOT_A_DIRECTORY: { code: 550, text: 'Not a directory' },
  ERR_IS_A_DIRECTORY: { code: 550, text: 'Is a directory' },
  ERR_DIRECTORY_NOT_EMPTY: { code: 550, text: 'Directory not empty' },
  ERR_INVALID_PATH: { code: 553, text: 'File name not allowed' },
  ERR_INVALID_ARGUMENT: { code: 501, text: 'Invalid argument' },
  ERR_UNSUPPORTED: { code: 502, text: 'Operation not supported' },
  ERR_NO_SPACE: { code: 552, text: 'No space left' },
  // RFC 959: 552 Requested file action aborted. Exceeded storage allocation.
  ERR_QUOTA_EXCEEDED: { code: 552, text: 'Quota exceeded' },
  ERR_LIMIT: { code: 552, text: 'Limit exceeded' },
  ERR_CONFIG: { code: 451, text: 'Server configuration error' },
  ERR_PROTOCOL: { code: 500, text: 'Protocol error' },
  ERR_IO: { code: 451, text: 'Local error in processing' },
  ERR_AUDIT_UNAVAILABLE: { code: 451, text: 'Audit unavailable; try again later' },
};

/** Maps any thrown value (FtpReplyError, FerryError, errno error, bug) to the reply sent to the client. */
export function replyFromError(err: unknown): FtpReply {
  if (err instanceof FtpReplyError) return { code: err.code, text: err.text };
  const ferry = toFerryError(err);
  // Disk full, quota, budgets: fixed texts naming the resource, never a path; the user should see which one.
  if (
    ferry instanceof StorageError ||
    ferry instanceof BudgetExceededError ||
    ferry instanceof TransferQuotaExceededError
  ) {
    return { code: ferry.code === 'ERR_IO' ? 451 : 552, text: ferry.message };
  }
  return BY_CODE[ferry.code] ?? { code: 451, text: 'Local error in processing' };
}
