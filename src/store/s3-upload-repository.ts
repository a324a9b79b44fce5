// S3 multipart uploads left open, over kysely: one row per (bucket, key), replaced as parts are stored.
import type { Kysely, Selectable } from 'kysely';
import { ResumableSha256 } from '../util/resumable-sha256.js';
import type {
  S3UploadDigestState,
  S3UploadPart,
  S3UploadRecord,
  S3UploadRepository,
} from './s3-upload-types.js';
import type { Database, S3UploadsTable } from './schema.js';

export class KyselyS3UploadRepository implements S3UploadRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async find(bucket: string, key: string): Promise<S3UploadRecord | undefined> {
    const row = await this.#db
      .selectFrom('s3_uploads')
      .selectAll()
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .executeTakeFirst();
    return row && recordOf(row);
  }

  async save(r: S3UploadRecord): Promise<void> {
    const values = {
      upload_id: r.uploadId,
      part_size: r.partSize,
      parts: JSON.stringify(r.parts),
      length: r.length,
      sha256_state: JSON.stringify(r.sha256),
      metadata: JSON.stringify(r.metadata),
      created_at: r.createdAt.toISOString(),
      updated_at: r.updatedAt.toISOString(),
    };
    // One statement on both drivers: two nodes saving one key at once leave one whole row, never a mix.
    await this.#db
      .insertInto('s3_uploads')
      .values({ bucket: r.bucket, key: r.key, ...values })
      .onConflict((oc) => oc.columns(['bucket', 'key']).doUpdateSet(values))
      .execute();
  }

  async remove(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.#db
      .deleteFrom('s3_uploads')
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .where('upload_id', '=', uploadId)
      .execute();
  }

  async staleSince(bucket: string, before: Date, limit: number): Promise<S3UploadRecord[]> {
    const rows = await this.#db
      .selectFrom('s3_uploads')
      .selectAll()
      .where('bucket', '=', bucket)
      .where('updated_at', '<', before.toISOString())
      .orderBy('updated_at')
      .limit(limit)
      .execute();
    return rows.map(recordOf);
  }
}

/** Nothing stored yet: what a damaged row is read as (the upload continues from its first part, which S3 replaces). */
const EMPTY_DIGEST: S3UploadDigestState = new ResumableSha256().state();

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isPart(p: unknown): p is S3UploadPart {
  const part = p as S3UploadPart | null;
  return (
    typeof part === 'object' &&
    part !== null &&
    Number.isSafeInteger(part.partNumber) &&
    typeof part.etag === 'string' &&
    Number.isSafeInteger(part.size)
  );
}

function isDigest(d: unknown): d is S3UploadDigestState {
  const state = d as S3UploadDigestState | null;
  return (
    typeof state === 'object' &&
    state !== null &&
    Array.isArray(state.h) &&
    state.h.length === 8 &&
    state.h.every((x) => Number.isInteger(x)) &&
    Number.isSafeInteger(state.length) &&
    typeof state.pending === 'string'
  );
}

/**
 * A row as a record. The parts and the digest state go together: when either is damaged, the record says nothing
 * was stored (never a digest of other bytes than the parts); damaged metadata reads as none.
 */
function recordOf(row: Selectable<S3UploadsTable>): S3UploadRecord {
  const parts = parsed(row.parts);
  const sha256 = parsed(row.sha256_state);
  const sound = Array.isArray(parts) && parts.every(isPart) && isDigest(sha256);
  const metadata = parsed(row.metadata);
  return {
    bucket: row.bucket,
    key: row.key,
    uploadId: row.upload_id,
    partSize: Number(row.part_size),
    parts: sound ? parts : [],
    length: sound ? Number(row.length) : 0,
    sha256: sound ? sha256 : EMPTY_DIGEST,
    metadata:
      typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
        ? Object.fromEntries(
            Object.entries(metadata).filter((e): e is [string, string] => typeof e[1] === 'string'),
          )
        : {},
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
