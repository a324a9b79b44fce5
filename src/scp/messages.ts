// Maps core errors to the strerror-like texts OpenSSH's scp prints, and frames scp warning/fatal lines.
import { type FerryErrorCode, TransferQuotaExceededError, toFerryError } from '../errors.js';
import { printable } from './control.js';

const TEXT_BY_CODE: Partial<Record<FerryErrorCode, string>> = {
  ERR_NOT_FOUND: 'No such file or directory',
  ERR_PERMISSION_DENIED: 'Permission denied',
  ERR_IS_A_DIRECTORY: 'Is a directory',
  ERR_NOT_A_DIRECTORY: 'Not a directory',
  ERR_ALREADY_EXISTS: 'File exists',
  ERR_DIRECTORY_NOT_EMPTY: 'Directory not empty',
  ERR_INVALID_PATH: 'Invalid argument',
  ERR_INVALID_ARGUMENT: 'Invalid argument',
  ERR_NO_SPACE: 'No space left on device',
  ERR_QUOTA_EXCEEDED: 'Disk quota exceeded',
  ERR_UNSUPPORTED: 'Operation not supported',
};

/**
 * The text shown to the peer for an error. Only the code is used: core messages may name backend
 * paths outside the user's chroot, which must never reach the wire.
 */
export function errorText(err: unknown): string {
  const error = toFerryError(err);
  // A transfer quota's message names the limit, never a path.
  if (error instanceof TransferQuotaExceededError) return error.message;
  return TEXT_BY_CODE[error.code] ?? 'Failure';
}

/** `\x01scp: <text>\n`: the peer prints it, counts an error and carries on with the next file. */
export function warningLine(text: string): Buffer {
  return Buffer.from(`\x01scp: ${printable(text)}\n`, 'utf8');
}

/** `\x02scp: <text>\n`: the peer prints it and gives up the whole transfer. */
export function fatalLine(text: string): Buffer {
  return Buffer.from(`\x02scp: ${printable(text)}\n`, 'utf8');
}

/** `<path>: <reason>` with the path made printable, as OpenSSH's run_err("%s: %s") does. */
export function pathMessage(path: string, reason: string): string {
  return `${printable(path)}: ${reason}`;
}
