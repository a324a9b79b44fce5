// Disk quota: a storage decorator that counts what the user's writes add to or take from the home, against limits
// kept in the store (shared by every process), and refuses the write that would pass them.
import { QuotaExceededError, toFerryError } from '../errors.js';
import type { FolderRepository, UserRepository } from '../store/types.js';
import { type ByteChunks, byteLength } from '../util/byte-chunks.js';
import { ForwardingFs } from '../vfs/forwarding-fs.js';
import type { Fs, FsFile, FsOpenFlags, FsStat, RunningSha256 } from '../vfs/types.js';

/** Where usage lives: one atomic change per call, refused when a positive change would pass a limit. */
export interface QuotaLedger {
  change(bytes: number, files: number): Promise<boolean>;
}

/** The ledger of one user in the store's users table. */
export function storeQuotaLedger(
  users: UserRepository,
  username: string,
  limits?: { readonly bytes: number; readonly files: number },
): QuotaLedger {
  // The session's limits (its effective ones, a group's say), not only what the user's own row holds.
  return { change: (bytes, files) => users.changeUsage(username, bytes, files, limits) };
}

/** The ledger of one virtual folder (folders table): shared by everyone who writes there, against the folder's limits. */
export function folderQuotaLedger(folders: Pick<FolderRepository, 'changeUsage'>, name: string): QuotaLedger {
  return { change: (bytes, files) => folders.changeUsage(name, bytes, files) };
}

/**
 * What counts is what `ferry quota scan` counts: every directory entry that is a regular file, with its size
 * (partials of uploads in progress included: they are on the disk). Each call that changes that is mirrored
 * here after (bytes given back) or before (bytes taken) it happens, so a refusal leaves nothing changed.
 * Writes that extend a file take the extension before writing it; a write or an upload that fails is discarded
 * by the core (the partial unlinked through here), which gives its bytes back.
 *
 * Races between sessions on the same name (two creating one file) can count a file twice until the next scan;
 * the server rescans at start, which also repairs what a crash left between a change and its count.
 */
export class QuotaFs extends ForwardingFs {
  readonly #ledger: QuotaLedger;
  readonly #describe: string;

  constructor(inner: Fs, ledger: QuotaLedger, describe: string) {
    super(inner);
    this.#ledger = ledger;
    this.#describe = describe;
  }

  async #take(bytes: number, files: number): Promise<void> {
    if (bytes <= 0 && files <= 0) return;
    if (!(await this.#ledger.change(bytes, files))) {
      throw new QuotaExceededError(`quota exceeded: ${this.#describe}`);
    }
  }

  async #give(bytes: number, files: number): Promise<void> {
    if (bytes <= 0 && files <= 0) return;
    await this.#ledger.change(-bytes, -files);
  }

  async #regularFile(path: string): Promise<FsStat | undefined> {
    try {
      const stat = await this.inner.lstat(path);
      return stat.kind === 'file' ? stat : undefined;
    } catch {
      return undefined;
    }
  }

  override async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    if (!flags.write) return this.inner.open(path, flags, mode);
    const before = await this.#regularFile(path);
    const creates = before === undefined && flags.create === true;
    await this.#take(0, creates ? 1 : 0);
    let file: FsFile;
    try {
      file = await this.inner.open(path, flags, mode);
    } catch (err) {
      await this.#give(0, creates ? 1 : 0);
      throw err;
    }
    let size = before?.size ?? 0;
    if (before && flags.truncate) {
      await this.#give(size, 0);
      size = 0;
    }
    return new QuotaFile(
      file,
      size,
      (bytes) => this.#take(bytes, 0),
      (bytes) => this.#give(bytes, 0),
    );
  }

  override async unlink(path: string): Promise<void> {
    const before = await this.#regularFile(path);
    await this.inner.unlink(path);
    if (before) await this.#give(before.size, 1);
  }

  override async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    // A replaced file leaves the home; renaming a name onto itself replaces nothing.
    const replaced = options?.noReplace || from === to ? undefined : await this.#regularFile(to);
    await this.inner.rename(from, to, options);
    if (replaced) await this.#give(replaced.size, 1);
  }

  override async link(existingPath: string, newPath: string): Promise<void> {
    // A scan sees a hard link as one more file of that size, so it counts as one.
    const source = await this.#regularFile(existingPath);
    await this.#take(source?.size ?? 0, source ? 1 : 0);
    try {
      await this.inner.link(existingPath, newPath);
    } catch (err) {
      if (source) await this.#give(source.size, 1);
      throw err;
    }
  }
}

/** A file open for writing: its size as counted, grown before a write, shrunk after a truncate. */
class QuotaFile implements FsFile {
  readonly #inner: FsFile;
  #size: number;
  readonly #take: (bytes: number) => Promise<void>;
  readonly #give: (bytes: number) => Promise<void>;

  constructor(
    inner: FsFile,
    size: number,
    take: (bytes: number) => Promise<void>,
    give: (bytes: number) => Promise<void>,
  ) {
    this.#inner = inner;
    this.#size = size;
    this.#take = take;
    this.#give = give;
  }

  get resolvedPath(): string | null | undefined {
    return this.#inner.resolvedPath;
  }

  resumeSha256(length: number): RunningSha256 | undefined {
    return this.#inner.resumeSha256?.(length);
  }

  read(position: number, length: number, headroom?: number, into?: Buffer): Promise<Buffer> {
    return this.#inner.read(position, length, headroom, into);
  }

  async write(position: number, data: ByteChunks): Promise<void> {
    const end = position + byteLength(data);
    // Counted synchronously first, so concurrent writes of one handle never take the same bytes twice.
    const grow = Math.max(0, end - this.#size);
    this.#size += grow;
    try {
      await this.#take(grow);
    } catch (err) {
      this.#size -= grow;
      throw err;
    }
    try {
      await this.#inner.write(position, data);
    } catch (err) {
      await this.#reconcile();
      throw toFerryError(err);
    }
  }

  async truncate(size: number): Promise<void> {
    const grow = size - this.#size;
    if (grow > 0) {
      this.#size = size;
      try {
        await this.#take(grow);
      } catch (err) {
        this.#size -= grow;
        throw err;
      }
    }
    try {
      await this.#inner.truncate(size);
    } catch (err) {
      await this.#reconcile();
      throw err;
    }
    if (grow < 0) {
      this.#size = size;
      await this.#give(-grow);
    }
  }

  /** After a failed change, count what the file really holds. */
  async #reconcile(): Promise<void> {
    try {
      const actual = (await this.#inner.stat()).size;
      if (actual < this.#size) await this.#give(this.#size - actual);
      this.#size = Math.min(this.#size, actual);
    } catch {
      // The scan at the next start repairs what cannot be known now.
    }
  }

  stat(): Promise<FsStat> {
    return this.#inner.stat();
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
