// The local-disk Fs backend: one root directory, every path resolved inside it by the kernel (openat2 RESOLVE_IN_ROOT).
import { close, constants as osConstants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { FerryError, InvalidPathError, toFerryError, UnsupportedError } from '../../errors.js';
import type {
  Fs,
  FsCapabilities,
  FsDir,
  FsDirEntry,
  FsFile,
  FsOpenFlags,
  FsStat,
  FsStatfs,
} from '../types.js';
import { cachedReadsFor } from './cached-reads.js';
import { confine, type NativeDir } from './confine.js';
import { LocalFile } from './local-file.js';
import { afterTurn } from './positional-batch.js';
import type { ReadCached } from './read-queue.js';
import { kindOf, toFsStat } from './stat.js';

/** How many names a listing reads (and lstats) per batch; bounds memory for huge directories. */
const DEFAULT_DIR_BATCH = 512;

export interface LocalFsOptions {
  /**
   * The directory every path is inside ('/' by default: the whole file system, for tools and tests).
   * Absolute paths, '..' and symlinks all resolve inside it, as under chroot(2), whatever their text says.
   */
  root?: string;
  /** Create the root (mode 0700, parents as needed) on first use: a user's home on first login. */
  createRoot?: boolean;
  dirBatchSize?: number;
  /**
   * Where metadata calls (stat, open, rename, close…) run: 'pool' on libuv's thread pool; 'inline' on the
   * calling thread, which saves a thread round trip per call (a third of a small file's upload time) but
   * stalls every session of the process while one call waits for a slow disk; 'auto' (default) inline only
   * on file systems whose metadata is local (LOCAL_FILE_SYSTEMS), never on network or FUSE ones. Inline
   * roots also read and write small amounts (INLINE_IO_BYTES) inline; larger reads and writes and listings
   * always use the pool.
   */
  metadataCalls?: MetadataCalls;
}

export type MetadataCalls = 'auto' | 'inline' | 'pool';

/**
 * statfs f_type of file systems whose metadata calls are answered by the local kernel from its caches or a
 * local device (linux/magic.h): ext2/3/4, XFS, Btrfs, tmpfs, ramfs, overlayfs, F2FS, ZFS. NFS, SMB, Ceph, 9p
 * and FUSE mounts are not in it: a call there may wait on a network.
 */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x858458f6, 0x794c7630, 0xf2f52010, 0x2fc12fc1,
]);

/**
 * Without openat2 (Linux < 5.6) the addon walks each path a component at a time and refuses every symlink;
 * the backend then cannot offer symlinks at all, and says so.
 */
function capabilities(): FsCapabilities {
  return {
    randomWrites: true,
    randomReads: true,
    atomicRename: true,
    atomicNoReplace: true,
    hardLinks: true,
    symlinks: !confine.isDegraded(),
    statvfs: true,
    modes: true,
    ownership: true,
  };
}

function checkPath(path: string): string {
  // The addon takes C strings: a NUL would silently cut the path short.
  if (path.includes('\0')) throw new InvalidPathError('Path contains a NUL byte');
  if (!isAbsolute(path)) throw new InvalidPathError(`Backend path must be absolute: ${path}`);
  return path;
}

async function mapped<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw toFerryError(err);
  }
}

function openFlags(flags: FsOpenFlags): number {
  const c = osConstants;
  let n: number;
  if (flags.read && flags.write) n = c.O_RDWR;
  else if (flags.write) n = c.O_WRONLY;
  else n = c.O_RDONLY;
  if (flags.create) n |= c.O_CREAT;
  if (flags.exclusive) n |= c.O_EXCL;
  if (flags.truncate) n |= c.O_TRUNC;
  if (flags.noFollow) n |= c.O_NOFOLLOW;
  return n;
}

class LocalDir implements FsDir {
  readonly #dir: NativeDir;
  readonly #batch: number;
  readonly resolvedPath: string | null;
  #closed = false;
  #ahead: Promise<FsDirEntry[] | null> | undefined;

  constructor(dir: NativeDir, resolvedPath: string | null, batch: number) {
    this.#dir = dir;
    this.resolvedPath = resolvedPath;
    this.#batch = batch;
  }

  /**
   * Hands out the batch read ahead (or reads one), then starts reading the next, so a client walking a huge
   * directory finds each batch ready instead of waiting for its lstat calls; memory stays at two batches.
   */
  read(): Promise<FsDirEntry[] | null> {
    const current = this.#ahead ?? this.#readBatch();
    this.#ahead = undefined;
    return current.then((batch) => {
      if (batch !== null && !this.#closed) {
        const ahead = this.#readBatch();
        // Its error, if any, is reported by the read() that takes it; until then it must not go unhandled.
        ahead.catch(() => undefined);
        this.#ahead = ahead;
      }
      return batch;
    });
  }

  /** One thread-pool job per batch: readdir and fstatat(AT_SYMLINK_NOFOLLOW) of each name on the open directory. */
  #readBatch(): Promise<FsDirEntry[] | null> {
    return mapped(async () => {
      if (this.#closed) return null;
      const entries = await confine.readdir(this.#dir, this.#batch);
      if (entries === null) return null;
      // Entries that vanished between readdir and fstatat are dropped; a batch of only those is not the end.
      if (entries.length === 0) return this.#readBatch();
      return entries.map((e) => ({ name: e.name, stat: toFsStat(e.stat) }));
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    // Let a read-ahead finish first: it is mid-way through the directory stream, which must not close under it.
    return mapped(async () => {
      await ahead?.catch(() => undefined);
      await confine.closedir(this.#dir);
    });
  }
}

export class LocalFs implements Fs {
  readonly #rootPath: string;
  readonly #createRoot: boolean;
  readonly #dirBatch: number;
  readonly #metadataCalls: MetadataCalls;
  #root: Promise<number> | undefined;
  #inline = false;
  /** How cached data is read on the event loop (cached-reads.ts); only where metadata calls run inline. */
  #readCached: ReadCached | undefined;
  #disposed = false;

  constructor(options: LocalFsOptions = {}) {
    const root = options.root ?? '/';
    if (!isAbsolute(root)) throw new InvalidPathError(`Root directory must be absolute: ${root}`);
    this.#rootPath = root;
    this.#createRoot = options.createRoot ?? false;
    this.#dirBatch = Math.max(1, options.dirBatchSize ?? DEFAULT_DIR_BATCH);
    this.#metadataCalls = options.metadataCalls ?? 'auto';
  }

  /** Whether this root's metadata calls run inline (known once the root is open; see metadataCalls). */
  async runsInline(): Promise<boolean> {
    await this.#rootFd();
    return this.#inline;
  }

  get capabilities(): FsCapabilities {
    return capabilities();
  }

  /** The root's descriptor, opened once; retried after a failure (the home may appear later). */
  #rootFd(): Promise<number> {
    if (this.#disposed) return Promise.reject(new FerryError('ERR_IO', 'Storage root is closed'));
    this.#root ??= (async () => {
      // On the thread pool: this runs at every session's first operation, not only at start-up. The root is
      // made only when missing: a recursive mkdir of an existing home cost each session a second trip there.
      const fd = await this.#openRoot();
      try {
        // The file system decides 'auto', and how cached data is read wherever calls run inline.
        const type = this.#metadataCalls === 'pool' ? undefined : (await confine.statfs(fd, '/')).type;
        const inline =
          this.#metadataCalls === 'inline' || (type !== undefined && LOCAL_FILE_SYSTEMS.has(type));
        this.#inline = inline && confine.setInline(fd, true);
        this.#readCached = this.#inline ? cachedReadsFor(type) : undefined;
      } catch (err) {
        close(fd, () => undefined);
        throw err;
      }
      return fd;
    })().catch((err: unknown) => {
      this.#root = undefined;
      throw toFerryError(err);
    });
    return this.#root;
  }

  async #openRoot(): Promise<number> {
    try {
      return await confine.openRoot(this.#rootPath);
    } catch (err) {
      if (!this.#createRoot || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    // The root is configuration (data dir and user name), never client input: creating it by name is safe.
    await mkdir(this.#rootPath, { recursive: true, mode: 0o700 });
    return confine.openRoot(this.#rootPath);
  }

  /** Runs `op` on the root's descriptor with a checked path; every failure leaves as a FerryError. */
  #at<T>(path: string, op: (root: number, path: string) => Promise<T>): Promise<T> {
    const call = mapped(async () => op(await this.#rootFd(), checkPath(path)));
    return this.#inline ? afterTurn(call) : call;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const root = this.#root;
    this.#root = undefined;
    const fd = await root?.catch(() => undefined);
    if (fd === undefined) return;
    // The mark goes first: the number is free for any open once closed.
    confine.setInline(fd, false);
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }

  stat(path: string): Promise<FsStat> {
    return this.#at(path, async (root, p) => toFsStat((await confine.stat(root, p, true, false)).stat));
  }

  lstat(path: string): Promise<FsStat> {
    return this.#at(path, async (root, p) => toFsStat((await confine.stat(root, p, false, false)).stat));
  }

  realpath(path: string): Promise<string> {
    return this.#at(path, (root, p) => confine.realpath(root, p));
  }

  open(path: string, flags: FsOpenFlags, mode = 0o666): Promise<FsFile> {
    return this.#at(path, async (root, p) => {
      const opened = await confine.open(root, p, openFlags(flags), mode);
      return new LocalFile(opened.fd, opened.path, this.#inline, undefined, this.#readCached);
    });
  }

  opendir(path: string): Promise<FsDir> {
    return this.#at(path, async (root, p) => {
      const opened = await confine.opendir(root, p);
      return new LocalDir(opened.dir, opened.path, this.#dirBatch);
    });
  }

  mkdir(path: string, options: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    const mode = options.mode ?? 0o777;
    return this.#at(path, async (root, p) => {
      if (!options.recursive) return confine.mkdir(root, p, mode);
      // Top-down, each step inside the root; existing directories on the way (and at the end) are fine.
      const parts = p.split('/').filter((part) => part !== '');
      for (let i = 1; i <= parts.length; i++) {
        const step = `/${parts.slice(0, i).join('/')}`;
        try {
          await confine.mkdir(root, step, mode);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          if (kindOf((await confine.stat(root, step, true, false)).stat.mode) !== 'directory') throw err;
        }
      }
    });
  }

  rmdir(path: string): Promise<void> {
    return this.#at(path, (root, p) => confine.rmdir(root, p));
  }

  unlink(path: string): Promise<void> {
    return this.#at(path, (root, p) => confine.unlink(root, p));
  }

  rename(from: string, to: string, options: { noReplace?: boolean } = {}): Promise<void> {
    return this.#at(from, (root, p) => confine.rename(root, p, checkPath(to), options.noReplace === true));
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return this.#at(existingPath, (root, p) => confine.link(root, p, checkPath(newPath)));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.#at(path, async (root, p) => {
      if (target.includes('\0')) throw new InvalidPathError('Link target contains a NUL byte');
      if (confine.isDegraded()) throw new UnsupportedError('Symlinks are disabled (kernel without openat2)');
      await confine.symlink(root, target, p);
    });
  }

  readlink(path: string): Promise<string> {
    return this.#at(path, (root, p) => confine.readlink(root, p));
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.#at(path, (root, p) => confine.chmod(root, p, mode, true));
  }

  utimes(
    path: string,
    atime: number,
    mtime: number,
    options: { followSymlinks?: boolean } = {},
  ): Promise<void> {
    return this.#at(path, (root, p) =>
      confine.utimes(root, p, atime, mtime, options.followSymlinks !== false),
    );
  }

  statfs(path: string): Promise<FsStatfs> {
    return this.#at(path, async (root, p) => {
      const { type: _type, ...figures } = await confine.statfs(root, p);
      return figures;
    });
  }
}

/** The storage of one user's session: the local disk rooted at their home, created (0700) on first use. */
export function localHomeFs(
  identity: { readonly homeDir: string },
  metadataCalls: MetadataCalls = 'auto',
): Fs {
  return new LocalFs({ root: identity.homeDir, createRoot: true, metadataCalls });
}
