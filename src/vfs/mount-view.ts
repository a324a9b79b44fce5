// The files and listings of a composed view (mount-fs.ts): resolved paths in the view's terms, mounts in listings.
import type { ByteChunks } from '../util/byte-chunks.js';
import type { FsDir, FsDirEntry, FsFile, FsStat } from './types.js';

/** A backend's file, its resolved path given in the view's terms. */
export class ViewFile implements FsFile {
  readonly #inner: FsFile;
  readonly resolvedPath: string | null | undefined;

  constructor(inner: FsFile, resolvedPath: string | null | undefined) {
    this.#inner = inner;
    this.resolvedPath = resolvedPath;
  }

  read(position: number, length: number, headroom?: number, into?: Buffer): Promise<Buffer> {
    return this.#inner.read(position, length, headroom, into);
  }
  write(position: number, data: ByteChunks): Promise<void> {
    return this.#inner.write(position, data);
  }
  stat(): Promise<FsStat> {
    return this.#inner.stat();
  }
  truncate(size: number): Promise<void> {
    return this.#inner.truncate(size);
  }
  chmod(mode: number): Promise<void> {
    return this.#inner.chmod(mode);
  }
  utimes(atime: number, mtime: number): Promise<void> {
    return this.#inner.utimes(atime, mtime);
  }
  sync(): Promise<void> {
    return this.#inner.sync();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * A home directory's listing with the mounts below it shown: a mount point replaces a home entry of the same
 * name (which the view cannot reach), a directory leading to a mount is added when the home lacks it.
 */
export class ViewDir implements FsDir {
  readonly #inner: FsDir | undefined;
  readonly resolvedPath: string | null | undefined;
  readonly #shown: Map<string, () => Promise<FsStat>>;
  #innerDone = false;
  #done = false;

  constructor(
    inner: FsDir | undefined,
    resolvedPath: string | null | undefined,
    shown: Map<string, () => Promise<FsStat>>,
  ) {
    this.#inner = inner;
    this.resolvedPath = resolvedPath;
    this.#shown = shown;
  }

  async read(): Promise<FsDirEntry[] | null> {
    while (this.#inner && !this.#innerDone) {
      const batch = await this.#inner.read();
      if (batch === null) {
        this.#innerDone = true;
        break;
      }
      const out = batch.filter((entry) => !this.#shown.has(entry.name));
      if (out.length > 0) return out;
    }
    if (this.#done || this.#shown.size === 0) return null;
    this.#done = true;
    const out: FsDirEntry[] = [];
    for (const [name, statOf] of this.#shown) {
      out.push({ name, stat: await statOf() });
    }
    return out.length > 0 ? out : null;
  }

  async close(): Promise<void> {
    await this.#inner?.close();
  }
}
