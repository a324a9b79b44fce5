// The S3 client of a configured bucket: endpoint, region, path-style; credentials from the SDK's default chain.
import { S3Client } from '@aws-sdk/client-s3';

export interface S3Endpoint {
  readonly region: string;
  /** An S3-compatible endpoint (MinIO, Ceph, s3rver…); AWS's own when unset. */
  readonly endpoint?: string | undefined;
  /** `endpoint/bucket/key` URLs instead of `bucket.endpoint/key` (most S3-compatible servers need it). */
  readonly forcePathStyle?: boolean | undefined;
  /** Given for tests; otherwise the SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/**
 * Checksums only where S3 requires them: the SDK's default CRC trailers (aws-chunked bodies) are not understood
 * by every S3-compatible server; Ferry stores its own SHA-256 with each object instead.
 */
export function s3ClientOf(e: S3Endpoint): S3Client {
  return new S3Client({
    region: e.region,
    ...(e.endpoint ? { endpoint: e.endpoint } : {}),
    forcePathStyle: e.forcePathStyle ?? false,
    ...(e.credentials ? { credentials: e.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}
