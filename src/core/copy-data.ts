// Server-side copy between two open handles of a session (copy-data): permission checks, then bounded chunks.
import { FerryError, InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import type { SessionFileHandle } from './file-handle.js';
import type { SessionPaths } from './session-paths.js';
import { virtualDirname } from './virtual-path.js';

/** Server-side copy moves data in chunks of this size; memory stays bounded. */
const COPY_CHUNK = 256 * 1024;

export interface CopyRange {
  readonly source: SessionFileHandle;
  readonly sourceOffset: number;
  /** 0: to the end of the source. */
  readonly length: number;
  readonly target: SessionFileHandle;
  readonly targetOffset: number;
}

/**
 * Copies a range between handles of one session; stops between chunks when any of `signals` aborts. Returns
 * the length copied as fixed up front (a copy to the end of its own file gets a fixed length, not 0).
 */
export async function copyBetweenHandles(
  range: CopyRange,
  paths: SessionPaths,
  signals: readonly (AbortSignal | undefined)[],
  onCopied: (bytes: number) => void,
): Promise<number> {
  const { source, sourceOffset, target, targetOffset } = range;
  let length = range.length;
  if (!source.mode.read) throw new PermissionDeniedError('Source is not open for reading');
  if (!target.mode.write) throw new PermissionDeniedError('Target is not open for writing');
  for (const n of [sourceOffset, length, targetOffset]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('Bad offset or length');
  }
  // Handles passed download (source) and upload/overwrite (target) when they were opened.
  paths.require('copy', [virtualDirname(source.path), virtualDirname(target.path)]);
  paths.require('download', [virtualDirname(source.path)]);
  paths.requireNoMoreThan(target.permissionDirs, source.permissionDirs);
  if (source.backendPath === target.backendPath) {
    const sourceEnd = length === 0 ? (await source.stat()).size : sourceOffset + length;
    const targetEnd = targetOffset + (sourceEnd - sourceOffset);
    if (sourceOffset < targetEnd && targetOffset < sourceEnd) {
      throw new InvalidArgumentError('Source and target ranges of the same file overlap');
    }
    // Fix the length now: a copy to the end of its own file must not chase its own writes.
    length = sourceEnd - sourceOffset;
    if (length === 0) return length;
  }
  const end = length === 0 ? Number.POSITIVE_INFINITY : sourceOffset + length;
  let position = sourceOffset;
  while (position < end) {
    // The client left (or the connection did): stop copying between chunks.
    for (const signal of signals) signal?.throwIfAborted();
    const chunk = await source.copyRead(position, Math.min(COPY_CHUNK, end - position));
    if (chunk.length === 0) break;
    await target.copyWrite(targetOffset + (position - sourceOffset), chunk);
    position += chunk.length;
    onCopied(chunk.length);
  }
  if (length !== 0 && position < end) throw new FerryError('ERR_IO', 'Source ended before the range');
  return length;
}
