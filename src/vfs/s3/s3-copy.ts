// Server-side copies and moves of S3 objects: a rename is a copy then a delete, keeping the SHA-256 tag, and a
// directory moves object by object, a page at a time.
import {
  CopyObjectCommand,
  GetObjectTaggingCommand,
  type ListObjectsV2CommandOutput,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { UnsupportedError } from '../../errors.js';
import { s3Call } from './s3-paths.js';

/** The largest object a single CopyObject copies (S3's limit); larger renames would need UploadPartCopy. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;
/** Objects moved at once when a directory is renamed. */
const MOVE_CONCURRENCY = 8;

/** Server-side copy keeping the SHA-256 tag; with `metadata`, the copy's metadata is replaced by it. */
export async function copyObject(
  client: S3Client,
  bucket: string,
  src: string,
  dst: string,
  size: number,
  metadata?: Record<string, string>,
): Promise<void> {
  if (size > MAX_COPY_BYTES)
    throw new UnsupportedError('This storage cannot rename or retime objects over 5 GiB');
  const tags = await s3Call('copy', () =>
    client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: src })),
  );
  await s3Call('copy', () =>
    client.send(
      new CopyObjectCommand({
        Bucket: bucket,
        Key: dst,
        CopySource: `${bucket}/${encodeURIComponent(src).replace(/%2F/g, '/')}`,
        ...(metadata ? { MetadataDirective: 'REPLACE' as const, Metadata: metadata } : {}),
      }),
    ),
  );
  if ((tags.TagSet ?? []).length > 0) {
    await s3Call('copy', () =>
      client.send(
        new PutObjectTaggingCommand({ Bucket: bucket, Key: dst, Tagging: { TagSet: tags.TagSet } }),
      ),
    );
  }
}

/** The requests a directory move makes, given by the S3Fs that owns the bucket and prefix. */
export interface MoveOps {
  /** One page of every object under `prefix` (no delimiter), from `token` on. */
  list(prefix: string, token?: string): Promise<ListObjectsV2CommandOutput>;
  copy(from: string, to: string, size: number): Promise<void>;
  remove(key: string): Promise<unknown>;
}

/** Moves every object under `from` to `to`, a page at a time (never the whole tree in memory). */
export async function moveObjects(from: string, to: string, ops: MoveOps): Promise<void> {
  let token: string | undefined;
  do {
    const page = await ops.list(from, token);
    const objects = page.Contents ?? [];
    for (let i = 0; i < objects.length; i += MOVE_CONCURRENCY) {
      await Promise.all(
        objects.slice(i, i + MOVE_CONCURRENCY).map(async (o) => {
          const key = o.Key ?? '';
          await ops.copy(key, to + key.slice(from.length), o.Size ?? 0);
          await ops.remove(key);
        }),
      );
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
