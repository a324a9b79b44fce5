// Stat records of the local backend: node:fs and the confine addon report the same fields.
import { constants } from 'node:fs';
import type { FsEntryKind, FsStat } from '../types.js';

/** What node:fs and the confine addon report: an FsStat before its kind is derived from the mode. */
export type RawStat = Omit<FsStat, 'kind'>;

export function kindOf(mode: number): FsEntryKind {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return 'file';
    case constants.S_IFDIR:
      return 'directory';
    case constants.S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

export function toFsStat(s: RawStat): FsStat {
  return {
    kind: kindOf(s.mode),
    mode: s.mode,
    size: s.size,
    uid: s.uid,
    gid: s.gid,
    nlink: s.nlink,
    atimeMs: s.atimeMs,
    mtimeMs: s.mtimeMs,
  };
}
