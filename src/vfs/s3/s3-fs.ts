// The S3 Fs backend: a user's home is a key prefix in a bucket; files are objects, directories are prefixes.
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FerryError, InvalidArgumentError, NotFoundError, UnsupportedError } from '../../errors.js';
import type { Fs, FsCapabilities, FsDir, FsFile, FsOpenFlags, FsStat, FsStatfs } from '../types.js';
import type { MultipartLedger, MultipartRecord } from './multipart-ledger.js';
import { copyObject, moveObjects } from './s3-copy.js';
import { S3Dir } from './s3-dir.js';
import { type ObjectInfo, S3File } from './s3-file.js';
import {
  dirKeyOf,
  isNotFound,
  keyOf,
  META_ATIME,
  META_MTIME,
  normalisePrefix,
  objectTimes,
  parentOf,
  s3Call,
  s3Error,
  timesOf,
} from './s3-paths.js';
import { RangeReader } from './s3-reader.js';
import { abortMultipart, MIN_PART_SIZE, S3Upload } from './s3-upload.js';

/** What S3 cannot do; everything else (random reads, times) it can. */
export const S3_CAPABILITIES: FsCapabilities = {
  randomWrites: false,
  randomReads: true,
  // Rename is a copy then a delete: for a moment both names exist, and a directory moves object by object.
  atomicRename: false,
  atomicNoReplace: false,
  hardLinks: false,
  symlinks: false,
  statvfs: false,
  modes: false,
  ownership: false,
};

export interface S3FsOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix of this Fs's '/' (e.g. `ferry/homes/alice`); '' is the bucket's root. */
  readonly prefix: string;
  /** Bytes per multipart part (at least 5 MiB; default 8 MiB). */
  readonly partSize?: number;
  /** Parts of one upload in flight at once (default 2). */
  readonly maxPartsInFlight?: number;
  /** Bytes per ranged GET of a download (default 1 MiB), and how many are fetched ahead (default 4). */
  readonly readBlockSize?: number;
  readonly readAhead?: number;
  /** Entries per listing batch (one ListObjectsV2 page; default 1000, S3's maximum). */
  readonly dirBatchSize?: number;
  /**
   * Where multipart uploads record their stored parts (the store, shared by a cluster's nodes). With it, an
   * upload whose process died stays open in S3, `stat` reports the bytes its recorded parts hold, and a write
   * at that size (a resume, on any node) continues the same upload: stored parts are never sent again.
   */
  readonly ledger?: MultipartLedger | undefined;
}

/**
 * Directory semantics: mkdir writes an empty marker object `dir/`; a directory exists while its marker or any
 * object under its prefix does (prefixes made by other tools count). rmdir removes the marker of an empty
 * directory only. Files have no permission bits, owners or links; times set by utimes live in object metadata.
 */
export class S3Fs implements Fs {
  readonly capabilities = S3_CAPABILITIES;
  readonly partSize: number;
  readonly #o: S3FsOptions;
  readonly #root: string;

  constructor(options: S3FsOptions) {
    this.#o = options;
    this.#root = normalisePrefix(options.prefix);
    this.partSize = options.partSize ?? 8 * 1024 * 1024;
    if (this.partSize < MIN_PART_SIZE) throw new InvalidArgumentError('S3 part size must be at least 5 MiB');
  }

  async stat(path: string): Promise<FsStat> {
    const key = keyOf(this.#root, path);
    if (key === this.#root) return this.dirStat(Date.now());
    const [head, dir] = await Promise.all([this.#head(key), this.#dirTime(key)]);
    if (head) return this.fileStat(head.ContentLength ?? 0, ...timesOf(head));
    if (dir !== undefined) return this.dirStat(dir);
    const pending = await this.#pending(key);
    if (pending)
      return this.fileStat(pending.length, pending.updatedAt.getTime(), pending.updatedAt.getTime());
    throw new NotFoundError();
  }

  lstat(path: string): Promise<FsStat> {
    return this.stat(path);
  }

  async realpath(path: string): Promise<string> {
    await this.stat(path);
    return `/${keyOf('', path)}`;
  }

  async open(path: string, flags: FsOpenFlags): Promise<FsFile> {
    const key = keyOf(this.#root, path);
    if (key === this.#root) throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
    const head = await this.#head(key);
    let pending = head && !flags.write ? undefined : await this.#pending(key);
    if (pending && head) {
      // Once an object is published under the key, a record left beside it is stale: its upload is dropped.
      await this.abandon(pending);
      pending = undefined;
    }
    if (!head && !pending) {
      // Only a marked directory is refused here: listing a full parent per created file would cost O(n) each.
      if (await this.#head(`${key}/`)) throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
      if (!flags.create) throw new NotFoundError();
      await this.#requireDir(parentOf(path));
    } else if (flags.create && flags.exclusive) {
      throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
    }
    if (pending && flags.write && flags.truncate) {
      // Started again from nothing: the upload left open is dropped now, not left to the sweeper.
      await this.abandon(pending);
      pending = undefined;
    }
    const base: ObjectInfo | undefined = head
      ? { size: head.ContentLength ?? 0, etag: head.ETag, ...objectTimes(head) }
      : pending && {
          size: pending.length,
          etag: undefined,
          mtimeMs: pending.updatedAt.getTime(),
          atimeMs: pending.updatedAt.getTime(),
          pending,
        };
    return new S3File(this, key, `/${keyOf('', path)}`, base, {
      writable: flags.write,
      truncate: flags.write && flags.truncate === true,
    });
  }

  async opendir(path: string): Promise<FsDir> {
    const key = keyOf(this.#root, path);
    await this.#requireDir(path);
    return new S3Dir(
      {
        client: this.#o.client,
        bucket: this.#o.bucket,
        prefix: dirKeyOf(key, this.#root),
        pageSize: this.#o.dirBatchSize ?? 1000,
        fileStat: (size, m, a) => this.fileStat(size, m, a),
        dirStat: (m) => this.dirStat(m),
      },
      `/${keyOf('', path)}`,
    );
  }

  async mkdir(path: string, options?: { mode?: number; recursive?: boolean }): Promise<void> {
    const key = keyOf(this.#root, path);
    const existing = await this.stat(path).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (existing) {
      if (options?.recursive && existing.kind === 'directory') return;
      throw new FerryError('ERR_ALREADY_EXISTS', 'File exists');
    }
    if (options?.recursive) await this.mkdir(parentOf(path), options);
    else await this.#requireDir(parentOf(path));
    await s3Call('mkdir', () =>
      this.#o.client.send(
        new PutObjectCommand({ Bucket: this.#o.bucket, Key: `${key}/`, Body: Buffer.alloc(0) }),
      ),
    );
  }

  async rmdir(path: string): Promise<void> {
    const key = keyOf(this.#root, path);
    if (key === this.#root) throw new FerryError('ERR_PERMISSION_DENIED', 'Cannot remove the root');
    await this.#requireDir(path);
    const page = await this.#list(`${key}/`, 2);
    if ((page.Contents ?? []).some((o) => o.Key !== `${key}/`) || (page.CommonPrefixes ?? []).length > 0) {
      throw new FerryError('ERR_DIRECTORY_NOT_EMPTY', 'Directory not empty');
    }
    await this.#delete(`${key}/`);
  }

  async unlink(path: string): Promise<void> {
    const key = keyOf(this.#root, path);
    const pending = await this.#pending(key);
    if (pending) await this.abandon(pending);
    if (!(await this.#head(key))) {
      if (pending) return;
      if (key === this.#root || (await this.#dirTime(key)) !== undefined) {
        throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
      }
      throw new NotFoundError();
    }
    await this.#delete(key);
  }

  /** A copy then a delete (not atomic: see capabilities); a directory moves object by object, marker included. */
  async rename(from: string, to: string, options?: { noReplace?: boolean }): Promise<void> {
    if (options?.noReplace)
      throw new UnsupportedError('This storage cannot refuse an existing target atomically');
    const src = keyOf(this.#root, from);
    const dst = keyOf(this.#root, to);
    if (src === this.#root || dst === this.#root)
      throw new FerryError('ERR_PERMISSION_DENIED', 'Cannot rename the root');
    const source = await this.stat(from);
    if (src === dst) return;
    const target = await this.stat(to).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    await this.#requireDir(parentOf(to));
    if (source.kind === 'file') {
      if (target?.kind === 'directory') throw new FerryError('ERR_IS_A_DIRECTORY', 'Is a directory');
      await copyObject(this.#o.client, this.#o.bucket, src, dst, source.size);
      await this.#delete(src);
      return;
    }
    if (dst.startsWith(`${src}/`)) throw new InvalidArgumentError('Cannot move a directory into itself');
    if (target?.kind === 'file') throw new FerryError('ERR_NOT_A_DIRECTORY', 'Not a directory');
    if (target) await this.rmdir(to); // POSIX: an empty directory may be replaced; a full one is refused
    await moveObjects(`${src}/`, `${dst}/`, {
      list: (prefix, token) => this.#list(prefix, 1000, true, token),
      copy: (from, to, size) => copyObject(this.#o.client, this.#o.bucket, from, to, size),
      remove: (key) => this.#delete(key),
    });
  }

  link(): Promise<void> {
    return Promise.reject(new UnsupportedError('Hard links are not supported by this storage'));
  }

  symlink(): Promise<void> {
    return Promise.reject(new UnsupportedError('Symlinks are not supported by this storage'));
  }

  async readlink(path: string): Promise<string> {
    await this.stat(path);
    throw new InvalidArgumentError('Not a symlink');
  }

  async chmod(path: string): Promise<void> {
    await this.stat(path);
    throw new UnsupportedError('This storage keeps no permission bits');
  }

  async utimes(path: string, atime: number, mtime: number): Promise<void> {
    const key = keyOf(this.#root, path);
    const st = await this.stat(path);
    if (st.kind === 'file') return this.setTimes(key, atime, mtime);
    if (key === this.#root) return;
    // A directory's times live on its marker (written if the directory had none).
    await s3Call('utimes', () =>
      this.#o.client.send(
        new PutObjectCommand({
          Bucket: this.#o.bucket,
          Key: `${key}/`,
          Body: Buffer.alloc(0),
          Metadata: { [META_ATIME]: String(atime), [META_MTIME]: String(mtime) },
        }),
      ),
    );
  }

  statfs(): Promise<FsStatfs> {
    return Promise.reject(new UnsupportedError('This storage reports no file system figures'));
  }

  /** Rewrites an object's times: S3 metadata cannot change in place, so the object is copied onto itself. */
  async setTimes(key: string, atime: number, mtime: number): Promise<void> {
    const head = await this.#head(key);
    if (!head) throw new NotFoundError();
    await copyObject(this.#o.client, this.#o.bucket, key, key, head.ContentLength ?? 0, {
      ...head.Metadata,
      [META_ATIME]: String(atime),
      [META_MTIME]: String(mtime),
    });
  }

  newUpload(key: string, metadata: () => Record<string, string>, resume?: MultipartRecord): S3Upload {
    const { client, bucket, maxPartsInFlight, ledger } = this.#o;
    const target = {
      client,
      bucket,
      key,
      partSize: this.partSize,
      maxInFlight: maxPartsInFlight ?? 2,
      ledger,
    };
    return resume ? S3Upload.resume(target, resume, metadata) : new S3Upload(target, metadata);
  }

  /**
   * Aborts a multipart upload left open and forgets its record. The record goes even when S3 refuses the abort:
   * the key is being written anew or removed, and a record left would show a file that is not there; the parts
   * are then the bucket lifecycle rule's (docs/STORAGE.md).
   */
  async abandon(record: MultipartRecord): Promise<void> {
    await abortMultipart(this.#o, record.key, record.uploadId).catch(() => undefined);
    await this.#o.ledger?.remove(record.bucket, record.key, record.uploadId);
  }

  newReader(key: string, info: ObjectInfo): RangeReader {
    const { client, bucket } = this.#o;
    return new RangeReader({
      client,
      bucket,
      key,
      size: info.size,
      etag: info.etag,
      blockSize: this.#o.readBlockSize ?? 1024 * 1024,
      readAhead: this.#o.readAhead ?? 4,
    });
  }

  fileStat(size: number, mtimeMs: number, atimeMs: number): FsStat {
    return { kind: 'file', mode: 0o100644, size, uid: 0, gid: 0, nlink: 1, atimeMs, mtimeMs };
  }

  dirStat(mtimeMs: number): FsStat {
    return { kind: 'directory', mode: 0o40755, size: 0, uid: 0, gid: 0, nlink: 2, atimeMs: mtimeMs, mtimeMs };
  }

  /** The upload left open under `key` (its process died), as recorded in the ledger. */
  async #pending(key: string): Promise<MultipartRecord | undefined> {
    return this.#o.ledger?.find(this.#o.bucket, key);
  }

  async #head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.#o.client.send(new HeadObjectCommand({ Bucket: this.#o.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw s3Error(err, 'stat');
    }
  }

  /**
   * The directory's time when `key` is a directory, undefined when it is not one. Its marker answers first (one
   * HEAD, cheap however full the directory); without one, a directory exists while any object is under it.
   */
  async #dirTime(key: string): Promise<number | undefined> {
    const marker = await this.#head(`${key}/`);
    if (marker) return objectTimes(marker).mtimeMs;
    const page = await this.#list(`${key}/`, 1, true);
    return (page.Contents ?? []).length > 0 ? Date.now() : undefined;
  }

  async #requireDir(path: string): Promise<void> {
    const st = await this.stat(path);
    if (st.kind !== 'directory') throw new FerryError('ERR_NOT_A_DIRECTORY', 'Not a directory');
  }

  #list(prefix: string, maxKeys: number, flat = false, token?: string) {
    return s3Call('list', () =>
      this.#o.client.send(
        new ListObjectsV2Command({
          Bucket: this.#o.bucket,
          Prefix: prefix,
          MaxKeys: maxKeys,
          Delimiter: flat ? undefined : '/',
          ContinuationToken: token,
        }),
      ),
    );
  }

  #delete(key: string): Promise<unknown> {
    return s3Call('delete', () =>
      this.#o.client.send(new DeleteObjectCommand({ Bucket: this.#o.bucket, Key: key })),
    );
  }
}
