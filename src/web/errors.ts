// The one mapping of errors to HTTP for the web client (pages and tus): status and a message a user can read.
import { type FerryErrorCode, toFerryError } from '../errors.js';

const STATUS: Record<FerryErrorCode, number> = {
  ERR_NOT_FOUND: 404,
  ERR_PERMISSION_DENIED: 403,
  ERR_ALREADY_EXISTS: 409,
  ERR_NOT_A_DIRECTORY: 409,
  ERR_IS_A_DIRECTORY: 409,
  ERR_DIRECTORY_NOT_EMPTY: 409,
  ERR_INVALID_PATH: 400,
  ERR_INVALID_ARGUMENT: 400,
  ERR_UNSUPPORTED: 501,
  ERR_NO_SPACE: 507,
  ERR_QUOTA_EXCEEDED: 507,
  ERR_LIMIT: 429,
  ERR_CONFIG: 500,
  ERR_PROTOCOL: 400,
  ERR_IO: 500,
  ERR_AUDIT_UNAVAILABLE: 503,
};

export interface WebFailure {
  readonly status: number;
  readonly message: string;
  readonly code: FerryErrorCode;
}

/** Core and storage messages are path-free and meant for clients (SFTP shows the same); internal errors are not. */
export function webFailure(err: unknown): WebFailure {
  const error = toFerryError(err);
  const status = STATUS[error.code] ?? 500;
  const message =
    status >= 500 && error.code === 'ERR_IO' ? 'The server failed; try again later' : error.message;
  return { status, message, code: error.code };
}
