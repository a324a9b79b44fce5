// Listings streamed with ListObjectsV2 (delimiter '/'): one page per batch, never the whole prefix in memory.
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { FsDir, FsDirEntry, FsStat } from '../types.js';
import { s3Error } from './s3-paths.js';

export interface DirTarget {
  readonly client: S3Client;
  readonly bucket: string;
  /** The directory's key prefix ('' for the bucket root, else ending in '/'). */
  readonly prefix: string;
  readonly pageSize: number;
  fileStat(size: number, mtimeMs: number, atimeMs: number): FsStat;
  dirStat(mtimeMs: number): FsStat;
}

/**
 * Files are the objects directly under the prefix (the directory's own marker excluded); subdirectories are
 * the common prefixes. Listings carry no object metadata, so entries show S3's LastModified (times set by
 * setstat show in stat, not in listings) and subdirectories the time of the listing.
 */
export class S3Dir implements FsDir {
  readonly resolvedPath: string;
  readonly #t: DirTarget;
  #token: string | undefined;
  #done = false;

  constructor(target: DirTarget, path: string) {
    this.#t = target;
    this.resolvedPath = path;
  }

  async read(): Promise<FsDirEntry[] | null> {
    const { client, bucket, prefix } = this.#t;
    // A page may hold only the directory's own marker: go on to the next until there are entries or none left.
    while (!this.#done) {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            Delimiter: '/',
            MaxKeys: this.#t.pageSize,
            ContinuationToken: this.#token,
          }),
        );
      } catch (err) {
        throw s3Error(err, 'list');
      }
      this.#token = page.NextContinuationToken;
      this.#done = !page.IsTruncated || !this.#token;
      const now = Date.now();
      const entries: FsDirEntry[] = [];
      for (const p of page.CommonPrefixes ?? []) {
        const name = (p.Prefix ?? '').slice(prefix.length, -1);
        if (isEntryName(name)) entries.push({ name, stat: this.#t.dirStat(now) });
      }
      for (const o of page.Contents ?? []) {
        const name = (o.Key ?? '').slice(prefix.length);
        if (!isEntryName(name)) continue;
        const mtimeMs = o.LastModified?.getTime() ?? now;
        entries.push({ name, stat: this.#t.fileStat(o.Size ?? 0, mtimeMs, mtimeMs) });
      }
      if (entries.length > 0) return entries;
    }
    return null;
  }

  async close(): Promise<void> {
    this.#done = true;
  }
}

/** Names an SFTP client can use: not the marker itself (''), '.', '..', nor names with an empty component. */
function isEntryName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/');
}
