// Aborts multipart uploads nobody continued: their process died and no client came back within the retention.
import type { S3Client } from '@aws-sdk/client-s3';
import { toFerryError } from '../../errors.js';
import type { MultipartLedger } from './multipart-ledger.js';
import { abortMultipart } from './s3-upload.js';

/** Records handled per query: the sweep walks the stale ones in pages, never all at once. */
const PAGE = 100;

export interface SweepOutcome {
  /** Uploads aborted (or found gone) and their records removed. */
  readonly aborted: number;
  /** Uploads S3 refused to abort: their records stay for the next sweep. */
  readonly failed: { readonly key: string; readonly reason: string }[];
}

/**
 * Aborts every recorded upload of the bucket not updated since `before` (S3 frees its parts) and removes its
 * record. An upload in progress updates its record with every part, so only abandoned ones are this old.
 */
export async function sweepAbandonedUploads(
  target: { client: S3Client; bucket: string; ledger: MultipartLedger },
  before: Date,
): Promise<SweepOutcome> {
  let aborted = 0;
  const failed: { key: string; reason: string }[] = [];
  for (;;) {
    // Each round aborts or fails every record it gets, so it ends; refused ones are skipped, not fetched forever.
    const stale = await target.ledger.staleSince(target.bucket, before, PAGE + failed.length);
    const todo = stale.filter((r) => !failed.some((f) => f.key === r.key));
    if (todo.length === 0) return { aborted, failed };
    for (const record of todo) {
      try {
        await abortMultipart(target, record.key, record.uploadId);
      } catch (err) {
        failed.push({ key: record.key, reason: toFerryError(err).message });
        continue;
      }
      await target.ledger.remove(record.bucket, record.key, record.uploadId);
      aborted++;
    }
  }
}
