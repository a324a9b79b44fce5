// Tus upload ids and the request context the store reads; kept apart so the tus library loads only on first use.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FileSession } from '../core/types.js';
import { isReservedName, joinVirtual, resolveVirtualPath } from '../core/virtual-path.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { PermissionMap } from '../permission-vocabulary.js';
import { validEntryName } from './listing.js';

/** The signed-in user's file session opener and permissions, set around each tus request. */
export const tusRequest = new AsyncLocalStorage<{
  readonly open: () => FileSession;
  readonly permissions: PermissionMap;
}>();

/**
 * An upload id is `<size>.<base64url of the virtual path>`: the upload's whole state is the partial the core
 * keeps beside the target, so any worker (or node) can continue it. An id means a path in the home of whoever
 * sends it: another user's id names a file in their own home, never someone else's.
 */
export function uploadId(path: string, size: number): string {
  return `${size}.${Buffer.from(path, 'utf8').toString('base64url')}`;
}

export function parseUploadId(id: string): { path: string; size: number } {
  const dot = id.indexOf('.');
  const size = Number(id.slice(0, dot));
  if (dot <= 0 || !Number.isSafeInteger(size) || size < 0) throw new NotFoundError('No such upload');
  const path = Buffer.from(id.slice(dot + 1), 'base64url').toString('utf8');
  if (!path.startsWith('/')) throw new NotFoundError('No such upload');
  return { path: resolveVirtualPath(path), size };
}

/** The target of a new upload from its tus metadata: a folder and one plain file name. */
export function targetOf(metadata: Record<string, string | null> | undefined): string {
  const name = metadata?.name ?? metadata?.filename ?? '';
  const problem = validEntryName(name);
  if (problem) throw new InvalidArgumentError(problem);
  if (isReservedName(name)) throw new InvalidArgumentError('That name is reserved for uploads in progress.');
  return joinVirtual(resolveVirtualPath(metadata?.dir ?? '/'), name);
}
