// Where an S3 multipart upload's progress is recorded (the store, in a server), so another node can continue it.
import type { Sha256State } from '../../util/resumable-sha256.js';

/** One part S3 acknowledged. */
export interface StoredPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

/**
 * A multipart upload left open under `key`: its parts 1..n in order without a gap (parts acknowledged after a
 * gap are not recorded: they are sent again), the bytes they hold, and the SHA-256 state after those bytes.
 */
export interface MultipartRecord {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly partSize: number;
  readonly parts: readonly StoredPart[];
  /** Bytes in `parts`: where a continuation starts. */
  readonly length: number;
  readonly sha256: Sha256State;
  /** The metadata the upload was created with (it cannot change afterwards). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Implemented over the store's `s3_uploads` table (wired in context.ts; vfs/ does not import the store). */
export interface MultipartLedger {
  find(bucket: string, key: string): Promise<MultipartRecord | undefined>;
  /** Inserts or replaces the record of (bucket, key). */
  save(record: MultipartRecord): Promise<void>;
  /** Removes the record when it is still of `uploadId` (a newer upload of the key keeps its own). */
  remove(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Records of `bucket` not updated since `before`, oldest first, at most `limit`. */
  staleSince(bucket: string, before: Date, limit: number): Promise<MultipartRecord[]>;
}
