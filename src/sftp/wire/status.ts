// The one table between FerryError codes and SFTP status codes: the server sends by it, the client reads back by it.
import type { FerryErrorCode } from '../../errors.js';
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

/** A status with OpenSSH's message for its code. */
export function statusOf(code: StatusCode): SftpStatus {
  return { code, message: STATUS_MESSAGES[code] };
}

/**
 * Follows OpenSSH's errno_to_portable(): ENOTDIR and ELOOP read as "No such file", EINVAL as "Bad message",
 * EEXIST and everything v3 has no code for as "Failure". Error messages are never forwarded: they can
 * carry backend paths. Quota, limit and audit failures get a fixed, path-free message so users see why
 * (v3 has no SSH_FX_NO_SPACE_ON_FILESYSTEM).
 *
 * Read backwards, a status is the code of the row with its status code and fixed message, else of the
 * first row with its status code and OpenSSH's message: row order matters (ERR_NOT_FOUND before
 * ERR_NOT_A_DIRECTORY, ERR_IO before ERR_ALREADY_EXISTS, ERR_PROTOCOL before ERR_INVALID_ARGUMENT).
 */
const STATUS_BY_ERROR_CODE: Readonly<Record<FerryErrorCode, SftpStatus>> = {
  ERR_NOT_FOUND: statusOf(FX.NO_SUCH_FILE),
  ERR_NOT_A_DIRECTORY: statusOf(FX.NO_SUCH_FILE),
  ERR_INVALID_PATH: statusOf(FX.NO_SUCH_FILE),
  ERR_PERMISSION_DENIED: statusOf(FX.PERMISSION_DENIED),
  ERR_IO: statusOf(FX.FAILURE),
  ERR_ALREADY_EXISTS: statusOf(FX.FAILURE),
  ERR_IS_A_DIRECTORY: statusOf(FX.FAILURE),
  ERR_DIRECTORY_NOT_EMPTY: statusOf(FX.FAILURE),
  ERR_CONFIG: statusOf(FX.FAILURE),
  ERR_PROTOCOL: statusOf(FX.BAD_MESSAGE),
  ERR_INVALID_ARGUMENT: statusOf(FX.BAD_MESSAGE),
  ERR_UNSUPPORTED: statusOf(FX.OP_UNSUPPORTED),
  ERR_NO_SPACE: { code: FX.FAILURE, message: 'No space left (quota exceeded)' },
  ERR_LIMIT: { code: FX.FAILURE, message: 'Limit exceeded' },
  ERR_QUOTA_EXCEEDED: { code: FX.FAILURE, message: "quota exceeded: the account's disk quota is used up" },
  ERR_AUDIT_UNAVAILABLE: { code: FX.FAILURE, message: 'Refused: the audit trail cannot be written' },
};

const ROWS = Object.entries(STATUS_BY_ERROR_CODE) as ReadonlyArray<[FerryErrorCode, SftpStatus]>;

/** Server direction: the status sent for an error code. */
export function statusForErrorCode(code: FerryErrorCode): SftpStatus {
  return STATUS_BY_ERROR_CODE[code] ?? statusOf(FX.FAILURE);
}

/**
 * Client direction: the error code a peer's status stands for. A status no row sends (EOF where data was
 * wanted, NO_CONNECTION, CONNECTION_LOST, codes past v3) reads as ERR_IO.
 */
export function errorCodeForStatus(code: number, message: string): FerryErrorCode {
  const fixed = ROWS.find(
    ([, s]) => s.code === code && s.message === message && s.message !== STATUS_MESSAGES[s.code],
  );
  if (fixed) return fixed[0];
  const first = ROWS.find(([, s]) => s.code === code && s.message === STATUS_MESSAGES[s.code]);
  return first?.[0] ?? 'ERR_IO';
}
