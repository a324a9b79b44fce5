// Error classes with stable codes; protocol adapters map them to wire formats exactly once.

export type FerryErrorCode =
  | 'ERR_NOT_FOUND'
  | 'ERR_PERMISSION_DENIED'
  | 'ERR_ALREADY_EXISTS'
  | 'ERR_NOT_A_DIRECTORY'
  | 'ERR_IS_A_DIRECTORY'
  | 'ERR_DIRECTORY_NOT_EMPTY'
  | 'ERR_INVALID_PATH'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_UNSUPPORTED'
  | 'ERR_NO_SPACE'
  | 'ERR_LIMIT'
  | 'ERR_CONFIG'
  | 'ERR_PROTOCOL'
  | 'ERR_IO';

export class FerryError extends Error {
  readonly code: FerryErrorCode;
  constructor(code: FerryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class NotFoundError extends FerryError {
  constructor(message = 'No such file', options?: { cause?: unknown }) {
    super('ERR_NOT_FOUND', message, options);
  }
}

export class PermissionDeniedError extends FerryError {
  constructor(message = 'Permission denied', options?: { cause?: unknown }) {
    super('ERR_PERMISSION_DENIED', message, options);
  }
}

export class InvalidPathError extends FerryError {
  constructor(message = 'Invalid path', options?: { cause?: unknown }) {
    super('ERR_INVALID_PATH', message, options);
  }
}

export class InvalidArgumentError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}

export class UnsupportedError extends FerryError {
  constructor(message = 'Operation unsupported', options?: { cause?: unknown }) {
    super('ERR_UNSUPPORTED', message, options);
  }
}

export class ConfigError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', message, options);
  }
}

export class ProtocolError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL', message, options);
  }
}

export class LimitError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LIMIT', message, options);
  }
}

/**
 * An over-budget request (core/budgets.ts, the hash budget). Its message names the resource and the limit,
 * never a path, so front ends may pass it to the client as it is (SFTP: FAILURE with this message).
 */
export class BudgetExceededError extends LimitError {}

const errnoToCode: Record<string, FerryErrorCode> = {
  ENOENT: 'ERR_NOT_FOUND',
  EACCES: 'ERR_PERMISSION_DENIED',
  EPERM: 'ERR_PERMISSION_DENIED',
  EROFS: 'ERR_PERMISSION_DENIED',
  EEXIST: 'ERR_ALREADY_EXISTS',
  ENOTDIR: 'ERR_NOT_A_DIRECTORY',
  EISDIR: 'ERR_IS_A_DIRECTORY',
  ENOTEMPTY: 'ERR_DIRECTORY_NOT_EMPTY',
  ENAMETOOLONG: 'ERR_INVALID_PATH',
  ELOOP: 'ERR_INVALID_PATH',
  EINVAL: 'ERR_INVALID_ARGUMENT',
  ENOSPC: 'ERR_NO_SPACE',
  EDQUOT: 'ERR_NO_SPACE',
  ENOTSUP: 'ERR_UNSUPPORTED',
  EOPNOTSUPP: 'ERR_UNSUPPORTED',
  EXDEV: 'ERR_UNSUPPORTED',
};

/** Turns a Node.js system error (errno code) into a FerryError; FerryErrors pass through. */
export function toFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const code = (errno && errnoToCode[errno]) || 'ERR_IO';
  const message = err instanceof Error ? err.message : String(err);
  return new FerryError(code, message, { cause: err });
}
