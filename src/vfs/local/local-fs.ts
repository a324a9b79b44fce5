// The local-disk Fs backend over node:fs/promises; every Node error leaves here as a FerryError.
import { constants, type Dir, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { InvalidPathError, toFerryError } from '../../errors.js';
import type { Fs, FsDir, FsDirEntry, FsEntryKind, FsFile, FsOpenFlags, FsStat, FsStatfs } from '../types.js';

/** How many names a listing reads (and lstats) per batch; bounds memory for huge directories. */
const DEFAULT_DIR_BATCH = 128;

export interface LocalFsOptions {
  dirBatchSize?: number;
}

function kindOf(stats: Stats): FsEntryKind {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

function toFsStat(stats: Stats): FsStat {
  return {
    kind: kindOf(stats),
    mode: stats.mode,
    size: stats.size,
    uid: stats.uid,
    gid: stats.gid,
    nlink: stats.nlink,
    atimeMs: stats.atimeMs,
    mtimeMs: stats.mtimeMs,
  };
}

function checkPath(path: string): string {
  // Node rejects NUL with a non-errno error; relative paths would depend on the process cwd.
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
  let n: number;
  if (flags.read && flags.write) n = constants.O_RDWR;
  else if (flags.write) n = constants.O_WRONLY;
  else n = constants.O_RDONLY;
  if (flags.create) n |= constants.O_CREAT;
  if (flags.exclusive) n |= constants.O_EXCL;
  if (flags.truncate) n |= constants.O_TRUNC;
  if (flags.noFollow) n |= constants.O_NOFOLLOW;
  return n;
}

class LocalFile implements FsFile {
  readonly #handle: fsp.FileHandle;

  constructor(handle: fsp.FileHandle) {
    this.#handle = handle;
  }

  read(position: number, length: number): Promise<Buffer> {
    return mapped(async () => {
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      // pread may return short counts (signals, network filesystems); only 0 means end of file.
      while (filled < length) {
        const { bytesRead } = await this.#handle.read(buffer, filled, length - filled, position + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, filled);
    });
  }

  write(position: number, data: Buffer): Promise<void> {
    return mapped(async () => {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await this.#handle.write(
          data,
          written,
          data.length - written,
          position + written,
        );
        written += bytesWritten;
      }
    });
  }

  stat(): Promise<FsStat> {
    return mapped(async () => toFsStat(await this.#handle.stat()));
  }

  truncate(size: number): Promise<void> {
    return mapped(() => this.#handle.truncate(size));
  }

  chmod(mode: number): Promise<void> {
    return mapped(() => this.#handle.chmod(mode));
  }

  utimes(atime: number, mtime: number): Promise<void> {
    return mapped(() => this.#handle.utimes(atime, mtime));
  }

  sync(): Promise<void> {
    return mapped(() => this.#handle.sync());
  }

  close(): Promise<void> {
    return mapped(() => this.#handle.close());
  }
}

class LocalDir implements FsDir {
  readonly #dir: Dir;
  readonly #path: string;
  readonly #batch: number;
  #closed = false;

  constructor(dir: Dir, path: string, batch: number) {
    this.#dir = dir;
    this.#path = path;
    this.#batch = batch;
  }

  read(): Promise<FsDirEntry[] | null> {
    return mapped(async () => {
      if (this.#closed) return null;
      const names: string[] = [];
      while (names.length < this.#batch) {
        const dirent = await this.#dir.read();
        if (dirent === null) break;
        names.push(dirent.name);
      }
      if (names.length === 0) return null;
      const base = this.#path.endsWith('/') ? this.#path : `${this.#path}/`;
      const stats = await Promise.all(
        names.map(async (name) => {
          try {
            return toFsStat(await fsp.lstat(base + name));
          } catch {
            // Removed between readdir and lstat: the entry simply is not there any more.
            return null;
          }
        }),
      );
      const entries: FsDirEntry[] = [];
      names.forEach((name, i) => {
        const stat = stats[i];
        if (stat) entries.push({ name, stat });
      });
      // A batch whose entries all vanished must not look like the end of the listing.
      return entries.length > 0 ? entries : this.read();
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return mapped(() => this.#dir.close());
  }
}

export class LocalFs implements Fs {
  readonly #dirBatch: number;

  constructor(options: LocalFsOptions = {}) {
    this.#dirBatch = Math.max(1, options.dirBatchSize ?? DEFAULT_DIR_BATCH);
  }

  stat(path: string): Promise<FsStat> {
    return mapped(async () => toFsStat(await fsp.stat(checkPath(path))));
  }

  lstat(path: string): Promise<FsStat> {
    return mapped(async () => toFsStat(await fsp.lstat(checkPath(path))));
  }

  realpath(path: string): Promise<string> {
    return mapped(() => fsp.realpath(checkPath(path)));
  }

  open(path: string, flags: FsOpenFlags, mode = 0o666): Promise<FsFile> {
    return mapped(async () => new LocalFile(await fsp.open(checkPath(path), openFlags(flags), mode)));
  }

  opendir(path: string): Promise<FsDir> {
    return mapped(async () => {
      const dir = await fsp.opendir(checkPath(path), { bufferSize: Math.min(this.#dirBatch, 1024) });
      return new LocalDir(dir, path, this.#dirBatch);
    });
  }

  mkdir(path: string, options: { mode?: number; recursive?: boolean } = {}): Promise<void> {
    return mapped(async () => {
      await fsp.mkdir(checkPath(path), {
        mode: options.mode ?? 0o777,
        recursive: options.recursive ?? false,
      });
    });
  }

  rmdir(path: string): Promise<void> {
    return mapped(() => fsp.rmdir(checkPath(path)));
  }

  unlink(path: string): Promise<void> {
    return mapped(() => fsp.unlink(checkPath(path)));
  }

  rename(from: string, to: string): Promise<void> {
    return mapped(() => fsp.rename(checkPath(from), checkPath(to)));
  }

  link(existingPath: string, newPath: string): Promise<void> {
    return mapped(() => fsp.link(checkPath(existingPath), checkPath(newPath)));
  }

  symlink(target: string, path: string): Promise<void> {
    return mapped(async () => {
      if (target.includes('\0')) throw new InvalidPathError('Link target contains a NUL byte');
      await fsp.symlink(target, checkPath(path));
    });
  }

  readlink(path: string): Promise<string> {
    return mapped(() => fsp.readlink(checkPath(path)));
  }

  chmod(path: string, mode: number): Promise<void> {
    return mapped(() => fsp.chmod(checkPath(path), mode));
  }

  utimes(
    path: string,
    atime: number,
    mtime: number,
    options: { followSymlinks?: boolean } = {},
  ): Promise<void> {
    return mapped(() =>
      options.followSymlinks === false
        ? fsp.lutimes(checkPath(path), atime, mtime)
        : fsp.utimes(checkPath(path), atime, mtime),
    );
  }

  statfs(path: string): Promise<FsStatfs> {
    return mapped(async () => {
      const s = await fsp.statfs(checkPath(path));
      // Node does not expose f_namemax; 255 is the limit of every local filesystem we support.
      return {
        bsize: s.bsize,
        blocks: s.blocks,
        bfree: s.bfree,
        bavail: s.bavail,
        files: s.files,
        ffree: s.ffree,
        namemax: 255,
      };
    });
  }
}
