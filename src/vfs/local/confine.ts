// Typed face of the native confine addon (native/confine): every path stays inside its root, by the kernel.
import { createRequire } from 'node:module';
import { nativeAddonPath } from '../../util/native-addon.js';
import type { FsStatfs } from '../types.js';
import type { RawStat } from './stat.js';

/** A stat record from the addon: the fields node:fs reports, plus the inode and device. */
export interface NativeStat extends RawStat {
  readonly ino: number;
  readonly dev: number;
}
/** statfs(2): every field of FsStatfs, and the file system's magic number (`f_type`). */
export type NativeStatfs = FsStatfs & { readonly type: number };
export interface NativeDirEntry {
  readonly name: string;
  readonly stat: NativeStat;
}
/** Opaque external holding a DIR*; closed by closedir() or, failing that, by the garbage collector. */
export interface NativeDir {
  readonly __brand: 'NativeDir';
}

/**
 * Paths are inside the root: '/' or '' is the root, absolute paths and '..' resolve inside it as under chroot.
 * Rejections carry Node's error shape (`code` 'ENOENT'..., negative `errno`, `syscall`, `path`).
 * A root fd is an ordinary fd: close it with fs.close() once no operation on it is pending.
 */
export interface Confine {
  hasOpenat2(): boolean;
  /** Forces the component walk that refuses every symlink (ELOOP) and every '..' (EPERM). */
  setDegraded(on: boolean): void;
  /** True when forced, or when the kernel has no openat2 (< 5.6). */
  isDegraded(): boolean;
  /**
   * Marks a root's calls to run on the calling (JS) thread instead of the libuv pool, or clears the mark;
   * clear it before closing the descriptor. Listings (readdir, closedir) always use the pool. False (nothing
   * marked) for a descriptor number past the addon's table (65536): that root stays on the pool.
   */
  setInline(root: number, on: boolean): boolean;
  /** O_PATH|O_DIRECTORY of an absolute host path (the admin-configured home; trusted). */
  openRoot(absPath: string): Promise<number>;
  /** A FIFO, socket or device is refused (EINVAL 'not a regular file or directory') without blocking. */
  open(
    root: number,
    path: string,
    oflags: number,
    mode: number,
  ): Promise<{ fd: number; path: string | null; stat: NativeStat }>;
  /** `withPath` false: `path` is null, and the two /proc readlinks that find it are not made (default true). */
  stat(
    root: number,
    path: string,
    follow: boolean,
    withPath?: boolean,
  ): Promise<{ stat: NativeStat; path: string | null }>;
  /** ENOENT if missing or deleted meanwhile; EXDEV if the object is not below the root's location. */
  realpath(root: number, path: string): Promise<string>;
  /** Entry operations: a last component of '', '.' or '..' (or the root itself) is EINVAL. */
  mkdir(root: number, path: string, mode: number): Promise<void>;
  rmdir(root: number, path: string): Promise<void>;
  unlink(root: number, path: string): Promise<void>;
  rename(root: number, from: string, to: string, noReplace: boolean): Promise<void>;
  link(root: number, from: string, to: string): Promise<void>;
  symlink(root: number, target: string, path: string): Promise<void>;
  readlink(root: number, path: string): Promise<string>;
  /** follow=false on a symlink rejects with EOPNOTSUPP. */
  chmod(root: number, path: string, mode: number, follow: boolean): Promise<void>;
  utimes(root: number, path: string, atime: number, mtime: number, follow: boolean): Promise<void>;
  statfs(root: number, path: string): Promise<NativeStatfs>;
  opendir(root: number, path: string): Promise<{ dir: NativeDir; path: string | null; stat: NativeStat }>;
  /** One call at a time per handle (EBUSY otherwise); EBADF after closedir. */
  readdir(dir: NativeDir, max: number): Promise<NativeDirEntry[] | null>;
  closedir(dir: NativeDir): Promise<void>;
  /**
   * Restricts the whole process to `rules` for good; returns the Landlock ABI applied, 0 without Landlock.
   * Every thread is covered: by the kernel (LANDLOCK_RESTRICT_SELF_TSYNC, ABI 8+) or, before that, by
   * signalling each thread to restrict itself; throws (ETIMEDOUT, EBUSY) rather than cover only some.
   */
  landlock(rules: ReadonlyArray<{ path: string; access: 'rw' | 'ro' | 'rx' }>): number;
  /** Threads the last landlock() could not reach without TSYNC: they block all signals (Node's SIGUSR1 watchdog). */
  landlockUncoveredThreads(): number;
  /**
   * glibc's malloc_trim(0): gives the C heap's free pages back to the system (a transfer's freed buffers stay
   * in glibc's arenas otherwise); true when something was released. Absent from an addon built before it.
   */
  mallocTrim?(): boolean;
  /**
   * A close-on-exec copy of descriptor `fd` (dup): a worker thread listens on its own copy of a shared listening
   * socket (src/util/shared-listen.ts). Absent from an addon built before it.
   */
  dup?(fd: number): number;
  /**
   * preadv2 with RWF_NOWAIT on this thread: the bytes the page cache holds of the range (0 at the end of the
   * file), -1 when none is cached, -2 when the file system cannot say (tmpfs). Absent from an addon built before it.
   */
  readCached?(fd: number, buffers: Buffer[], position: number): number;
}

export const confine: Confine = createRequire(import.meta.url)(nativeAddonPath('confine')) as Confine;
