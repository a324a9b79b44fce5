// S3 multipart uploads left open, over kysely: one row per (bucket, key), replaced as parts are stored.
import type { Kysely, Selectable } from 'kysely';
import type { S3UploadPart, S3UploadRecord, S3UploadRepository } from './s3-upload-types.js';
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

function recordOf(row: Selectable<S3UploadsTable>): S3UploadRecord {
  return {
    bucket: row.bucket,
    key: row.key,
    uploadId: row.upload_id,
    partSize: Number(row.part_size),
    parts: JSON.parse(row.parts) as S3UploadPart[],
    length: Number(row.length),
    sha256: JSON.parse(row.sha256_state) as S3UploadRecord['sha256'],
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
