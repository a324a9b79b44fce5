// S3 multipart uploads left open for a continuation: what a node records after each part S3 stored.

/** One part S3 acknowledged. */
export interface S3UploadPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

/** A SHA-256 state (eight words, bytes hashed, the unfinished block as base64): opaque to the store. */
export interface S3UploadDigestState {
  readonly h: readonly number[];
  readonly length: number;
  readonly pending: string;
}

/** A multipart upload of (bucket, key): its parts 1..n without a gap and where they end. */
export interface S3UploadRecord {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly partSize: number;
  readonly parts: readonly S3UploadPart[];
  readonly length: number;
  readonly sha256: S3UploadDigestState;
  readonly metadata: Readonly<Record<string, string>>;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface S3UploadRepository {
  find(bucket: string, key: string): Promise<S3UploadRecord | undefined>;
  /** Inserts or replaces the record of (bucket, key). */
  save(record: S3UploadRecord): Promise<void>;
  /** Removes the record of (bucket, key) when it is still of `uploadId`. */
  remove(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Records of `bucket` not updated since `before`, oldest first, at most `limit` (the sweeper's). */
  staleSince(bucket: string, before: Date, limit: number): Promise<S3UploadRecord[]>;
}
