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
  | 'ERR_QUOTA_EXCEEDED'
  | 'ERR_CONFIG'
  | 'ERR_PROTOCOL'
  | 'ERR_IO'
  | 'ERR_AUDIT_UNAVAILABLE';

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

/** An upload (or link) would take the account past its disk quota (`ferry users set --quota-bytes/--quota-files`). */
export class QuotaExceededError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_QUOTA_EXCEEDED', message, options);
  }
}

/**
 * An upload or download would take the account past a transfer quota (`ferry users set --transfer-quota-*`). The
 * message names the limit and never a path: front ends show it to the user as it is.
 */
export class TransferQuotaExceededError extends QuotaExceededError {}

export class LimitError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LIMIT', message, options);
  }
}

/** Errnos whose data may be lost: a write that met one must fail its upload, and the client must be told why. */
const STORAGE_FAILURES = {
  ENOSPC: { code: 'ERR_NO_SPACE', message: 'No space left on device' },
  EDQUOT: { code: 'ERR_NO_SPACE', message: 'Disk quota exceeded' },
  EIO: { code: 'ERR_IO', message: 'Input/output error' },
} as const satisfies Record<string, { code: FerryErrorCode; message: string }>;

function isStorageErrno(errno: string): errno is keyof typeof STORAGE_FAILURES {
  return Object.hasOwn(STORAGE_FAILURES, errno);
}

/**
 * The storage itself failed (disk full, quota, I/O error). The message comes from a fixed table and
 * never names a path, so protocol adapters may show it to clients; the errno error is the cause.
 */
export class StorageError extends FerryError {
  readonly errno: string;
  constructor(errno: keyof typeof STORAGE_FAILURES, options?: { cause?: unknown }) {
    const failure = STORAGE_FAILURES[errno];
    super(failure.code, failure.message, options);
    this.errno = errno;
  }
}

/** Refused because the audit trail cannot be written (audit.onFailure is 'refuse-uploads'). */
export class AuditUnavailableError extends FerryError {
  constructor(message = 'Refused: the audit trail cannot be written', options?: { cause?: unknown }) {
    super('ERR_AUDIT_UNAVAILABLE', message, options);
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
  ENOTSUP: 'ERR_UNSUPPORTED',
  EOPNOTSUPP: 'ERR_UNSUPPORTED',
  EXDEV: 'ERR_UNSUPPORTED',
};

/**
 * Errnos that answer a lookup rather than report a failure: every new upload's name is looked up and found
 * missing. Their FerryErrors carry no stack trace: capturing one under a session's chain of awaits cost 10–17 µs
 * under Node 20 here, against ~1 µs without (docs/PERFORMANCE.md, stop 59), and it would only point at the
 * backend's error mapping; the code, message and cause say what happened.
 */
const LOOKUP_ANSWERS: ReadonlySet<string> = new Set(['ENOENT', 'EEXIST', 'ENOTDIR']);

/** Turns a Node.js system error (errno code) into a FerryError; FerryErrors pass through. */
export function toFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof errno === 'string' && isStorageErrno(errno)) return new StorageError(errno, { cause: err });
  const code = (errno && errnoToCode[errno]) || 'ERR_IO';
  // Never an empty reason: some errors (and thrown non-errors) carry no message of their own.
  const message = (err instanceof Error ? err.message : String(err)) || errno || 'Unknown error';
  if (typeof errno !== 'string' || !LOOKUP_ANSWERS.has(errno))
    return new FerryError(code, message, { cause: err });
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new FerryError(code, message, { cause: err });
  } finally {
    Error.stackTraceLimit = limit;
  }
}
