// The storage interface every backend (local disk, later S3 and the PGP decorator) implements; paths are absolute paths inside the backend's root, already sanitised by the core.
import type { ByteChunks } from '../util/byte-chunks.js';

export type FsEntryKind = 'file' | 'directory' | 'symlink' | 'other';

export interface FsStat {
  readonly kind: FsEntryKind;
  /** Full st_mode, type bits included. Backends without modes synthesise 0o100644 / 0o40755. */
  readonly mode: number;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
}

export interface FsOpenFlags {
  readonly read: boolean;
  readonly write: boolean;
  readonly create?: boolean;
  readonly exclusive?: boolean;
  readonly truncate?: boolean;
  /** Fail instead of following a symlink in the last component (narrows check-then-use races). */
  readonly noFollow?: boolean;
}

/** An open file; every read and write names its position (there is no file pointer). */
export interface FsFile {
  /**
   * Up to `length` bytes at `position`; shorter only at end of file, empty at or past it. With `headroom`,
   * the buffer returned starts with that many spare bytes (the caller writes a header there), then the data:
   * its length is headroom + the bytes read. Decorators must pass `headroom` on or honour it themselves.
   * With `into` (at least headroom + length bytes) the data is read there and a view of it returned, so a
   * caller can reuse its buffers; the backend must not keep it.
   */
  read(position: number, length: number, headroom?: number, into?: Buffer): Promise<Buffer>;
  /**
   * Writes all of `data` (its chunks in order) at `position`. Once the promise settles the caller may reuse
   * `data`'s memory (the SFTP server's pooled WRITE buffers do): a backend that keeps bytes longer copies them.
   */
  write(position: number, data: ByteChunks): Promise<void>;
  stat(): Promise<FsStat>;
  truncate(size: number): Promise<void>;
  chmod(mode: number): Promise<void>;
  /** Times in seconds since the epoch. */
  utimes(atime: number, mtime: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
  /**
   * Where the opened object really is (symlinks resolved by the backend at open time), as a path inside the
   * root; null when the backend knows it is not nameable there, undefined when it cannot tell. The core
   * checks permissions and reserved names on this, not on the name the client used.
   */
  readonly resolvedPath?: string | null;
  /**
   * A SHA-256 already fed with the file's first `length` bytes, when the backend cannot read them back but kept
   * the digest's state (S3: the parts of a multipart upload continued after a crash). Undefined otherwise;
   * decorators that change the bytes leave it out.
   */
  resumeSha256?(length: number): RunningSha256 | undefined;
  /**
   * The open file descriptor, when the file is one (local storage): encrypted storage reads and opens a segment
   * in one thread-pool job on it, and an encrypt folder's sealing thread writes its message through it
   * (native/aead). The file owns it: a user finishes every call on it before close(), and writes through it only
   * when it alone writes that file (a new upload's). Decorators leave it out.
   */
  readonly descriptor?: number;
}

/** The part of node:crypto's Hash an upload digest uses. */
export interface RunningSha256 {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

export interface FsDirEntry {
  readonly name: string;
  /** Attributes of the entry itself (a symlink is reported as a symlink). */
  readonly stat: FsStat;
}

/** A streaming listing: entries come in bounded batches, never the whole directory at once. */
export interface FsDir {
  /** The next batch ('.' and '..' excluded), or null once exhausted. */
  read(): Promise<FsDirEntry[] | null>;
  close(): Promise<void>;
  /** Where the opened directory really is inside the root; see FsFile.resolvedPath. */
  readonly resolvedPath?: string | null;
}

export interface FsStatfs {
  readonly bsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly namemax: number;
}

/**
 * What a backend can do; the core asks instead of assuming, and answers what a backend cannot do with
 * ERR_UNSUPPORTED before anything changes (never a half-written file). Absent fields mean supported, so
 * a backend only lists what it lacks; a backend must also refuse an unsupported call itself (UnsupportedError).
 */
export interface FsCapabilities {
  /**
   * Writes at any position of an open file (out of order, over earlier data, past the end). Without it a
   * file is written front to back: each write starts where the file ends (object stores, streaming encryption).
   */
  readonly randomWrites?: boolean;
  /** Reads at any position of an open file; without it reads only move forward (offsets never decrease). */
  readonly randomReads?: boolean;
  /**
   * `rename` replaces an existing target atomically: readers see the old file or the new one, never neither.
   * Declared for operators and future backends; the core publishes uploads by rename either way (without it a
   * reader may briefly find no file, never a partial one).
   */
  readonly atomicRename?: boolean;
  /** `rename` with `noReplace` refuses an existing target atomically (RENAME_NOREPLACE). */
  readonly atomicNoReplace?: boolean;
  /** `link` (hard links). */
  readonly hardLinks?: boolean;
  /** `symlink`, and symlinks followed in paths. */
  readonly symlinks?: boolean;
  /** `statfs` reports real space and inode figures. */
  readonly statvfs?: boolean;
  /** Permission bits are stored: `chmod` and the `mode` of `open`/`mkdir` take effect. */
  readonly modes?: boolean;
  /** `uid`/`gid` in FsStat are real owners; without it they are meaningless and shown as the user's own. */
  readonly ownership?: boolean;
}

/** Whether a backend can do `capability` (absent means it can). */
export function canDo(
  fs: { readonly capabilities?: FsCapabilities },
  capability: keyof FsCapabilities,
): boolean {
  return fs.capabilities?.[capability] !== false;
}

/**
 * Backend storage, confined to one root: '/' is the root, and absolute paths, '..' and symlinks never
 * lead out of it (for the local backend the kernel enforces this). Every rejection is a FerryError (src/errors.ts) with a stable code, so the core
 * can tell ERR_NOT_FOUND from ERR_ALREADY_EXISTS without knowing the backend.
 */
export interface Fs {
  readonly capabilities?: FsCapabilities;
  stat(path: string): Promise<FsStat>;
  lstat(path: string): Promise<FsStat>;
  /** The path with every symlink resolved; ERR_NOT_FOUND when any component is missing. */
  realpath(path: string): Promise<string>;
  /** `mode` applies when the file is created (subject to the process umask on POSIX backends). */
  open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile>;
  opendir(path: string): Promise<FsDir>;
  mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Replaces an existing target (POSIX rename) unless noReplace: then ERR_ALREADY_EXISTS, atomically. */
  rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void>;
  /**
   * True when `rename(from, to)` is not one rename but a copy then a delete (two backends of a composed view,
   * vfs/mount-fs.ts); absent: never. The core records it with the rename.
   */
  movesByCopy?(from: string, to: string): boolean;
  /** Hard link; ERR_ALREADY_EXISTS when `newPath` exists. */
  link(existingPath: string, newPath: string): Promise<void>;
  /** Stores `target` verbatim as the link text. */
  symlink(target: string, path: string): Promise<void>;
  readlink(path: string): Promise<string>;
  /**
   * Where the text `readlink` gave for the symlink at `linkPath` leads, as a path of this Fs; absent: resolved
   * from the link's directory ('/' the root). A composed view (vfs/mount-fs.ts) answers inside the link's own
   * folder and refuses text that would name another folder's object.
   */
  linkTarget?(linkPath: string, text: string): string;
  chmod(path: string, mode: number): Promise<void>;
  /** Times in seconds since the epoch; followSymlinks=false changes the link itself (lutimes). */
  utimes(path: string, atime: number, mtime: number, options?: { followSymlinks?: boolean }): Promise<void>;
  statfs(path: string): Promise<FsStatfs>;
  /** Releases what the backend holds for this root (descriptors); the Fs is unusable afterwards. */
  dispose?(): Promise<void>;
}
