// The local-disk Fs backend over node:fs/promises; every Node error leaves here as a FerryError.
import { constants, type Dir } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { InvalidPathError, toFerryError } from '../../errors.js';
import { type ByteChunks, byteLength, chunksOf } from '../../util/byte-chunks.js';
import type { Fs, FsDir, FsDirEntry, FsEntryKind, FsFile, FsOpenFlags, FsStat, FsStatfs } from '../types.js';
import { type LstatResult, lstatPool } from './lstat-pool.js';

/** How many names a listing reads (and lstats) per batch; bounds memory for huge directories. */
const DEFAULT_DIR_BATCH = 512;

export interface LocalFsOptions {
  dirBatchSize?: number;
}

function kindOf(mode: number): FsEntryKind {
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

function toFsStat(stats: LstatResult): FsStat {
  return {
    kind: kindOf(stats.mode),
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

/**
 * Most iovecs one pwritev takes (Linux IOV_MAX is 1024; an SFTP WRITE of 255 KiB is ~9 chunk slices) and
 * most bytes, so one call stays short. A single write with more chunks still goes out (libuv splits it).
 */
const MAX_WRITE_BATCH = 256;
const MAX_WRITE_BATCH_BYTES = 8 * 1024 * 1024;

interface PendingWrite {
  readonly position: number;
  readonly chunks: readonly Buffer[];
  readonly length: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

class LocalFile implements FsFile {
  readonly #handle: fsp.FileHandle;
  /** Writes waiting for the one in progress; see write(). */
  #queue: PendingWrite[] = [];
  #writing = false;

  constructor(handle: fsp.FileHandle) {
    this.#handle = handle;
  }

  read(position: number, length: number, headroom = 0, into?: Buffer): Promise<Buffer> {
    return mapped(async () => {
      if (into && into.length < headroom + length) {
        throw new RangeError(`read buffer of ${into.length} bytes is smaller than ${headroom + length}`);
      }
      const buffer = into ?? Buffer.allocUnsafe(headroom + length);
      let filled = 0;
      // pread may return short counts (signals, network filesystems); only 0 means end of file.
      while (filled < length) {
        const { bytesRead } = await this.#handle.read(
          buffer,
          headroom + filled,
          length - filled,
          position + filled,
        );
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buffer.subarray(0, headroom + filled);
    });
  }

  /**
   * One write at a time per file, in call order; writes queued meanwhile that continue one another go
   * out as one pwritev. Pipelined SFTP uploads otherwise put several thread-pool threads on one file,
   * where they spin on the inode lock (perf showed ~8% of upload CPU) and each pays its own wake-up.
   */
  write(position: number, data: ByteChunks): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ position, chunks: chunksOf(data), length: byteLength(data), resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const batch = this.#takeContiguous();
      const first = batch[0]!;
      try {
        await writeAllAt(
          this.#handle,
          batch.flatMap((w) => w.chunks),
          first.position,
        );
        for (const w of batch) w.resolve();
      } catch (err) {
        const error = toFerryError(err);
        for (const w of batch) w.reject(error);
      }
    }
    this.#writing = false;
  }

  /** The head of the queue and the writes right after it that start where the previous one ends. */
  #takeContiguous(): PendingWrite[] {
    const queue = this.#queue;
    const head = queue[0]!;
    let count = 1;
    let end = head.position + head.length;
    let bytes = head.length;
    let iovecs = head.chunks.length;
    while (count < queue.length) {
      const next = queue[count]!;
      if (next.position !== end) break;
      if (bytes + next.length > MAX_WRITE_BATCH_BYTES || iovecs + next.chunks.length > MAX_WRITE_BATCH) break;
      end += next.length;
      bytes += next.length;
      iovecs += next.chunks.length;
      count++;
    }
    return queue.splice(0, count);
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

/** pwritev of all of `buffers` at `position`, continuing after short writes. */
async function writeAllAt(
  handle: fsp.FileHandle,
  buffers: readonly Buffer[],
  position: number,
): Promise<void> {
  const pending = buffers.filter((b) => b.length > 0);
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten } =
      pending.length === 1
        ? await handle.write(pending[0]!, 0, pending[0]!.length, at)
        : await handle.writev(pending, at);
    at += bytesWritten;
    let skip = bytesWritten;
    while (pending.length > 0 && skip >= pending[0]!.length) skip -= pending.shift()!.length;
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
}

class LocalDir implements FsDir {
  readonly #dir: Dir;
  readonly #path: string;
  readonly #batch: number;
  #closed = false;
  #ahead: Promise<FsDirEntry[] | null> | undefined;

  constructor(dir: Dir, path: string, batch: number) {
    this.#dir = dir;
    this.#path = path;
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

  #readBatch(): Promise<FsDirEntry[] | null> {
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
      const stats = await lstatPool.lstatMany(base, names);
      const entries: FsDirEntry[] = [];
      names.forEach((name, i) => {
        const stat = stats[i];
        if (stat) entries.push({ name, stat: toFsStat(stat) });
      });
      // A batch whose entries all vanished must not look like the end of the listing.
      return entries.length > 0 ? entries : this.#readBatch();
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const ahead = this.#ahead;
    this.#ahead = undefined;
    // Let a read-ahead finish first: it is mid-way through the Dir, which must not close under it.
    return mapped(async () => {
      await ahead?.catch(() => undefined);
      await this.#dir.close();
    });
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
