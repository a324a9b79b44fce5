// Test-only backend: a decorator that declares (and enforces) what object stores lack: random writes, hard links, symlinks, atomic no-replace.
import { UnsupportedError } from '../errors.js';
import type { ByteChunks } from '../util/byte-chunks.js';
import { byteLength } from '../util/byte-chunks.js';
import { ForwardingFs } from './forwarding-fs.js';
import type { FsCapabilities, FsFile, FsOpenFlags, FsStat } from './types.js';

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
export class LimitedFs extends ForwardingFs {
  override get capabilities(): FsCapabilities {
    return { ...this.inner.capabilities, ...LIMITED_CAPABILITIES };
  }

  override async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    const file = await this.inner.open(path, flags, mode);
    if (!flags.write) return file;
    try {
      return new FrontToBackFile(file, flags.truncate ? 0 : (await file.stat()).size);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  override rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    if (options?.noReplace) return Promise.reject(new UnsupportedError('rename without replacing'));
    return this.inner.rename(from, to);
  }
  override link(): Promise<void> {
    return Promise.reject(new UnsupportedError('hard links'));
  }
  override symlink(): Promise<void> {
    return Promise.reject(new UnsupportedError('symlinks'));
  }
}
