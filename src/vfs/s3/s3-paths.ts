// Names, times and errors of the S3 backend: Fs paths to object keys under the root prefix, object metadata to
// times, and SDK errors to FerryErrors.
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { FerryError, InvalidPathError, NotFoundError, PermissionDeniedError } from '../../errors.js';

/** Object metadata keys (sent as x-amz-meta-…); times in seconds since the epoch. */
export const META_MTIME = 'ferry-mtime';
export const META_ATIME = 'ferry-atime';
/** The object tag holding the SHA-256 (hex) of the object's content, set when Ferry completes the upload. */
export const TAG_SHA256 = 'ferry-sha256';

/** Normalises a configured prefix: no leading slash, one trailing slash unless empty. */
export function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/**
 * The object key of an absolute Fs path: '/' is the root prefix itself (''), '/a/b' is `<root>a/b`. Paths come
 * sanitised by the core, but the backend refuses what could escape its prefix or confuse S3 anyway.
 */
export function keyOf(root: string, path: string): string {
  if (path.includes('\0')) throw new InvalidPathError('Path contains a NUL byte');
  if (!path.startsWith('/')) throw new InvalidPathError(`Backend path must be absolute: ${path}`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidPathError('Path contains ..');
  return `${root}${parts.join('/')}`;
}

/** The key of a directory's marker object (`dir/`); the root has none (it always exists). */
export function dirKeyOf(key: string, root: string): string {
  return key === root ? root : `${key}/`;
}

/** The parent path of an absolute Fs path ('/' for top-level names). */
export function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const at = trimmed.lastIndexOf('/');
  return at <= 0 ? '/' : trimmed.slice(0, at);
}

interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Whether an SDK error means "no such object" (HeadObject says only 404, GetObject NoSuchKey). */
export function isNotFound(err: unknown): boolean {
  const e = err as SdkError | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/**
 * Turns an SDK error into a FerryError. Messages name the S3 error, never the request (which may carry
 * signed headers); FerryErrors pass through.
 */
export function s3Error(err: unknown, what: string): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as SdkError | undefined;
  const name = e?.name ?? e?.Code ?? 'UnknownError';
  if (name === 'NoSuchBucket')
    return new FerryError('ERR_IO', `S3 ${what}: the bucket does not exist`, { cause: err });
  if (isNotFound(err)) return new NotFoundError('No such file', { cause: err });
  const status = e?.$metadata?.httpStatusCode;
  if (status === 403 || name === 'AccessDenied') {
    return new PermissionDeniedError(`S3 ${what}: access denied`, { cause: err });
  }
  return new FerryError('ERR_IO', `S3 ${what} failed: ${name}${status ? ` (HTTP ${status})` : ''}`, {
    cause: err,
  });
}

/** [mtimeMs, atimeMs] of an object, as `fileStat` takes them. */
export function timesOf(head: HeadObjectCommandOutput): [number, number] {
  const t = objectTimes(head);
  return [t.mtimeMs, t.atimeMs];
}

/** Times set by utimes (metadata, seconds) or else S3's LastModified. */
export function objectTimes(head: HeadObjectCommandOutput): { mtimeMs: number; atimeMs: number } {
  const modified = head.LastModified?.getTime() ?? Date.now();
  const mtime = Number(head.Metadata?.[META_MTIME]);
  const atime = Number(head.Metadata?.[META_ATIME]);
  const mtimeMs = Number.isFinite(mtime) && head.Metadata?.[META_MTIME] ? mtime * 1000 : modified;
  return { mtimeMs, atimeMs: Number.isFinite(atime) && head.Metadata?.[META_ATIME] ? atime * 1000 : mtimeMs };
}

/** Runs one S3 request; its failure leaves as a FerryError (s3Error), named after `what` was being done. */
export async function s3Call<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw s3Error(err, what);
  }
}
