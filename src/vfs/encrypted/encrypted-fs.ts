// Transparent encrypted storage: an Fs decorator that stores every new regular file as an AEAD container.
import { UnsupportedError } from '../../errors.js';
import { loggers } from '../../logger.js';
import { withFields } from '../../util/with-fields.js';
import { ForwardingFs } from '../forwarding-fs.js';
import {
  canDo,
  type Fs,
  type FsDir,
  type FsDirEntry,
  type FsFile,
  type FsOpenFlags,
  type FsStat,
} from '../types.js';
import {
  decodeHeader,
  HEADER_SIZE,
  hasMagic,
  IntegrityError,
  MAGIC,
  MIN_CONTAINER_SIZE,
  newHeader,
  plainSizeOf,
} from './container.js';
import { EncryptedFile } from './encrypted-file.js';
import type { SegmentCipherName } from './segment-cipher.js';
import type { StorageKeyRing } from './storage-keys.js';

/**
 * Files without the container magic were written before encryption was turned on. 'read' serves them as they
 * are (and writes to them stay plain); 'refuse' fails them with ERR_IO, for stores known to be fully encrypted,
 * where a plain file can only have been put there behind Ferry's back.
 */
export type PlaintextFiles = 'read' | 'refuse';

export interface EncryptedFsOptions {
  readonly keys: StorageKeyRing;
  readonly plaintextFiles?: PlaintextFiles;
  /**
   * 'plain': new (empty) files are stored as they are, containers already there still read and write as
   * containers: a user whose encryption was turned off keeps their encrypted files. Default 'encrypted'.
   */
  readonly newFiles?: 'encrypted' | 'plain';
  /** What new containers' segments are sealed with (files already stored keep theirs). Default AES-256-GCM. */
  readonly cipher?: SegmentCipherName;
}

/** How many containers a listing batch checks at once (each check is an open and a 8-byte read). */
const LISTING_CHECKS = 16;

function childPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

/**
 * Over any Fs with random reads and writes. A regular file is a container when it starts with the magic; its
 * plaintext size follows from its length, so stat costs one extra open and read, listings one per file.
 */
export class EncryptedFs extends ForwardingFs {
  readonly #keys: StorageKeyRing;
  readonly #plaintext: PlaintextFiles;
  readonly #newFilesPlain: boolean;
  readonly #cipher: SegmentCipherName;

  constructor(inner: Fs, options: EncryptedFsOptions) {
    // A write inside a segment rewrites it in place, and a read anywhere reads its segment: both must be possible.
    if (!canDo(inner, 'randomWrites') || !canDo(inner, 'randomReads')) {
      throw new UnsupportedError('encrypted storage needs a backend with random reads and writes');
    }
    super(inner);
    this.#keys = options.keys;
    this.#plaintext = options.plaintextFiles ?? 'read';
    this.#newFilesPlain = options.newFiles === 'plain';
    this.#cipher = options.cipher ?? 'aes-256-gcm';
  }

  override async open(path: string, flags: FsOpenFlags, mode?: number): Promise<FsFile> {
    // Writes inside a segment read it first, so a write-only handle reads the container too.
    const file = await this.inner.open(path, flags.write ? withFields(flags, { read: true }) : flags, mode);
    try {
      const stat = await file.stat();
      if (stat.kind !== 'file') return file;
      if (stat.size === 0) {
        // Empty: new (or truncated), so it becomes a container; an empty file only read stays as it is.
        if (!flags.write || this.#newFilesPlain) return file;
        const { header, keys } = newHeader(this.#keys, this.#cipher);
        return await EncryptedFile.create(file, header, keys, path);
      }
      const head = await file.read(0, HEADER_SIZE);
      if (!hasMagic(head)) {
        if (this.#plaintext === 'refuse') {
          throw new IntegrityError(`${path}: not an encrypted file, and plain files are refused`);
        }
        return file;
      }
      return EncryptedFile.open(file, decodeHeader(head, this.#keys, path), stat.size, path);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  override async stat(path: string): Promise<FsStat> {
    return this.#plainStat(path, await this.inner.stat(path), true);
  }

  override async lstat(path: string): Promise<FsStat> {
    return this.#plainStat(path, await this.inner.lstat(path), false);
  }

  override async opendir(path: string): Promise<FsDir> {
    return new PlainSizeDir(await this.inner.opendir(path), (entry) =>
      this.#plainStat(childPath(path, entry.name), entry.stat, false),
    );
  }

  /** `stat` with the plaintext size when the file is a container (a peek at its magic). */
  async #plainStat(path: string, stat: FsStat, follow: boolean): Promise<FsStat> {
    if (stat.kind !== 'file' || stat.size < MIN_CONTAINER_SIZE) return stat;
    let file: FsFile;
    try {
      file = await this.inner.open(path, { read: true, write: false, noFollow: !follow });
    } catch (err) {
      // Unreadable (mode 000) or gone since: the stored size is all there is to show.
      loggers.core.debug({ path, err }, 'encrypted storage: cannot check a file for the container magic');
      return stat;
    }
    try {
      return hasMagic(await file.read(0, MAGIC.length))
        ? withFields(stat, { size: plainSizeOf(stat.size) })
        : stat;
    } finally {
      await file.close().catch(() => undefined);
    }
  }
}

/** A listing whose file entries carry plaintext sizes. */
class PlainSizeDir implements FsDir {
  readonly #inner: FsDir;
  readonly #plainStat: (entry: FsDirEntry) => Promise<FsStat>;

  constructor(inner: FsDir, plainStat: (entry: FsDirEntry) => Promise<FsStat>) {
    this.#inner = inner;
    this.#plainStat = plainStat;
  }

  get resolvedPath(): string | null | undefined {
    return this.#inner.resolvedPath;
  }

  async read(): Promise<FsDirEntry[] | null> {
    const batch = await this.#inner.read();
    if (batch === null) return null;
    const out: FsDirEntry[] = [];
    for (let i = 0; i < batch.length; i += LISTING_CHECKS) {
      const part = batch.slice(i, i + LISTING_CHECKS);
      const stats = await Promise.all(part.map((entry) => this.#plainStat(entry)));
      for (const [j, entry] of part.entries()) out.push({ name: entry.name, stat: stats[j]! });
    }
    return out;
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
