// Test-only backend: a decorator that declares (and enforces) what object stores lack: random writes, hard links, symlinks, atomic no-replace.
import { UnsupportedError } from '../errors.js';
import type { ByteChunks } from '../util/byte-chunks.js';
import { byteLength } from '../util/byte-chunks.js';
import type { Fs, FsCapabilities, FsDir, FsFile, FsOpenFlags, FsStat, FsStatfs } from './types.js';

/** What the limited backend lacks; everything else is the inner backend's. */
export const LIMITED_CAPABILITIES: FsCapabilities = {
  randomWrites: false,
  hardLinks: false,
  symlinks: false,
  atomicNoReplace: false,
};

/** A file written front to back only: a write anywhere but the current end is refused, as S3 multipart would. */
class FrontToBackFile implements FsFile {
  readonly #file: FsFile;
  #end: number;

  constructor(file: FsFile, end: number) {
    this.#file = file;
    this.#end = end;
  }

  get resolvedPath(): string | null | undefined {
    return this.#file.resolvedPath;
  }

  read(position: number, length: number, headroom?: number, into?: Buffer): Promise<Buffer> {
    return this.#file.read(position, length, headroom, into);
  }

  write(position: number, data: ByteChunks): Promise<void> {
    // Checked when called, not when run: pipelined writes arrive in order and must be judged in that order.
    if (position !== this.#end) {
      return Promise.reject(new UnsupportedError(`write at ${position}, but the file ends at ${this.#end}`));
    }
    this.#end += byteLength(data);
    return this.#file.write(position, data);
  }

  async truncate(size: number): Promise<void> {
    await this.#file.truncate(size);
    this.#end = size;
  }

  stat(): Promise<FsStat> {
    return this.#file.stat();
  }
  chmod(mode: number): Promise<void> {
    return this.#file.chmod(mode);
  }
  utimes(atime: number, mtime: number): Promise<void> {
    return this.#file.utimes(atime, mtime);
  }
  sync(): Promise<void> {
    return this.#file.sync();
  }
  close(): Promise<void> {
    return this.#file.close();
  }
}

/** An Fs over another that can do less; every operation it lacks is refused with ERR_UNSUPPORTED. */
export class LimitedFs implements Fs {
  readonly #fs: Fs;
  readonly capabilities: FsCapabilities;

  constructor(fs: Fs) {
    this.#fs = fs;
    this.capabilities = { ...fs.capabilities, ...LIMITED_CAPABILITIES };
  }

  async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    const file = await this.#fs.open(path, flags, mode);
    if (!flags.write) return file;
    try {
      return new FrontToBackFile(file, flags.truncate ? 0 : (await file.stat()).size);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    if (options?.noReplace) return Promise.reject(new UnsupportedError('rename without replacing'));
    return this.#fs.rename(from, to);
  }
  link(): Promise<void> {
    return Promise.reject(new UnsupportedError('hard links'));
  }
  symlink(): Promise<void> {
    return Promise.reject(new UnsupportedError('symlinks'));
  }

  stat(path: string): Promise<FsStat> {
    return this.#fs.stat(path);
  }
  lstat(path: string): Promise<FsStat> {
    return this.#fs.lstat(path);
  }
  realpath(path: string): Promise<string> {
    return this.#fs.realpath(path);
  }
  opendir(path: string): Promise<FsDir> {
    return this.#fs.opendir(path);
  }
  mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<void> {
    return this.#fs.mkdir(path, options);
  }
  rmdir(path: string): Promise<void> {
    return this.#fs.rmdir(path);
  }
  unlink(path: string): Promise<void> {
    return this.#fs.unlink(path);
  }
  readlink(path: string): Promise<string> {
    return this.#fs.readlink(path);
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.#fs.chmod(path, mode);
  }
  utimes(path: string, atime: number, mtime: number, options?: { followSymlinks?: boolean }): Promise<void> {
    return this.#fs.utimes(path, atime, mtime, options);
  }
  statfs(path: string): Promise<FsStatfs> {
    return this.#fs.statfs(path);
  }
  async dispose(): Promise<void> {
    await this.#fs.dispose?.();
  }
}
