// The one place FerryErrors become SFTP status codes, with the messages OpenSSH's sftp-server sends.
import { BudgetExceededError, FerryError, type FerryErrorCode, toFerryError } from '../errors.js';
import { FX, type StatusCode } from './constants.js';

/** Messages as OpenSSH's status_to_message() words them; clients print them verbatim. */
export const STATUS_MESSAGES: Readonly<Record<StatusCode, string>> = {
  [FX.OK]: 'Success',
  [FX.EOF]: 'End of file',
  [FX.NO_SUCH_FILE]: 'No such file',
  [FX.PERMISSION_DENIED]: 'Permission denied',
  [FX.FAILURE]: 'Failure',
  [FX.BAD_MESSAGE]: 'Bad message',
  [FX.NO_CONNECTION]: 'No connection',
  [FX.CONNECTION_LOST]: 'Connection lost',
  [FX.OP_UNSUPPORTED]: 'Operation unsupported',
};

export interface SftpStatus {
  code: StatusCode;
  message: string;
}

/**
 * Follows OpenSSH's errno_to_portable(): ENOTDIR and ELOOP read as "No such file", EINVAL as "Bad message",
 * EEXIST and everything v3 has no code for as "Failure". Error messages are never forwarded: they can
 * carry backend paths. Quota and limit failures get a fixed, path-free message so users see why.
 */
const BY_CODE: Readonly<Record<FerryErrorCode, SftpStatus>> = {
  ERR_NOT_FOUND: status(FX.NO_SUCH_FILE),
  ERR_NOT_A_DIRECTORY: status(FX.NO_SUCH_FILE),
  ERR_INVALID_PATH: status(FX.NO_SUCH_FILE),
  ERR_PERMISSION_DENIED: status(FX.PERMISSION_DENIED),
  ERR_ALREADY_EXISTS: status(FX.FAILURE),
  ERR_IS_A_DIRECTORY: status(FX.FAILURE),
  ERR_DIRECTORY_NOT_EMPTY: status(FX.FAILURE),
  ERR_INVALID_ARGUMENT: status(FX.BAD_MESSAGE),
  ERR_PROTOCOL: status(FX.BAD_MESSAGE),
  ERR_UNSUPPORTED: status(FX.OP_UNSUPPORTED),
  ERR_NO_SPACE: { code: FX.FAILURE, message: 'No space left (quota exceeded)' },
  ERR_LIMIT: { code: FX.FAILURE, message: 'Limit exceeded' },
  ERR_CONFIG: status(FX.FAILURE),
  ERR_IO: status(FX.FAILURE),
};

/** A failure whose SFTP status is decided where it happens (bad handle, handle limit). */
export class SftpStatusError extends FerryError {
  readonly status: SftpStatus;
  constructor(status: SftpStatus) {
    super('ERR_INVALID_ARGUMENT', status.message);
    this.status = status;
  }
}

function status(code: StatusCode): SftpStatus {
  return { code, message: STATUS_MESSAGES[code] };
}

export function statusOf(code: StatusCode): SftpStatus {
  return status(code);
}

/** Maps any thrown value (FerryError, errno error, bug) to the status sent to the client. */
export function statusFromError(err: unknown): SftpStatus {
  if (err instanceof SftpStatusError) return err.status;
  // Budget messages name the resource and the limit, never a path: the user should see which one was hit.
  if (err instanceof BudgetExceededError) return { code: FX.FAILURE, message: err.message };
  return BY_CODE[toFerryError(err).code] ?? status(FX.FAILURE);
}
