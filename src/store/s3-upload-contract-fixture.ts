// The contract of the S3 multipart upload records every store driver passes (runS3UploadContract).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { S3UploadRecord, Store } from './types.js';

export type S3UploadStoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const MiB = 1024 * 1024;

function record(key: string, uploadId: string, parts: number, updatedAt: string): S3UploadRecord {
  return {
    bucket: 'ferry',
    key,
    uploadId,
    partSize: 8 * MiB,
    parts: Array.from({ length: parts }, (_, i) => ({
      partNumber: i + 1,
      etag: `"e${i + 1}"`,
      size: 8 * MiB,
    })),
    // Past 2^31: sizes are bigint on PostgreSQL.
    length: parts * 8 * MiB + 3 * 1024 ** 3,
    sha256: { h: [1, 2, 3, 4, 5, 6, 7, 0xffffffff], length: parts * 8 * MiB, pending: 'AAE=' },
    metadata: { 'ferry-mtime': '1700000000' },
    createdAt: new Date('2026-11-30T09:00:00.000Z'),
    updatedAt: new Date(updatedAt),
  };
}

export function runS3UploadContract(name: string, makeStore: S3UploadStoreFactory): void {
  test(`${name}: an S3 upload's record is saved, replaced as parts are stored, found and removed by its upload id`, async () => {
    const { store, cleanup } = await makeStore();
    try {
      const uploads = store.s3Uploads;
      assert.equal(await uploads.find('ferry', 'homes/alice/.ferry-part.a'), undefined);
      await uploads.save(record('homes/alice/.ferry-part.a', 'u1', 0, '2026-11-30T09:00:00.000Z'));
      const grown = record('homes/alice/.ferry-part.a', 'u1', 3, '2026-11-30T09:05:00.000Z');
      await uploads.save(grown);
      assert.deepEqual(await uploads.find('ferry', 'homes/alice/.ferry-part.a'), grown, 'read back whole');
      assert.equal(await uploads.find('other', 'homes/alice/.ferry-part.a'), undefined, 'per bucket');
      await uploads.remove('ferry', 'homes/alice/.ferry-part.a', 'u0');
      assert.ok(
        await uploads.find('ferry', 'homes/alice/.ferry-part.a'),
        'another upload id removes nothing',
      );
      await uploads.remove('ferry', 'homes/alice/.ferry-part.a', 'u1');
      assert.equal(await uploads.find('ferry', 'homes/alice/.ferry-part.a'), undefined);
    } finally {
      await store.close();
      await cleanup();
    }
  });

  test(`${name}: the sweeper's query lists records not updated since a time, oldest first`, async () => {
    const { store, cleanup } = await makeStore();
    try {
      const uploads = store.s3Uploads;
      await uploads.save(record('k/new', 'u3', 1, '2026-11-30T12:00:00.000Z'));
      await uploads.save(record('k/older', 'u2', 1, '2026-11-29T12:00:00.000Z'));
      await uploads.save(record('k/oldest', 'u1', 1, '2026-11-28T12:00:00.000Z'));
      await uploads.save({ ...record('k/elsewhere', 'u0', 1, '2026-11-27T12:00:00.000Z'), bucket: 'other' });
      const stale = await uploads.staleSince('ferry', new Date('2026-11-30T00:00:00.000Z'), 10);
      assert.deepEqual(
        stale.map((r) => r.key),
        ['k/oldest', 'k/older'],
      );
      assert.deepEqual(
        (await uploads.staleSince('ferry', new Date('2026-11-30T00:00:00.000Z'), 1)).map((r) => r.key),
        ['k/oldest'],
      );
    } finally {
      await store.close();
      await cleanup();
    }
  });

  test(`${name}: a damaged row reads as an upload with nothing stored, never as parts without their digest`, async () => {
    const { store, cleanup } = await makeStore();
    try {
      const uploads = store.s3Uploads;
      await uploads.save(record('k/damaged', 'u1', 2, '2026-11-30T09:00:00.000Z'));
      // As a bad disk or a hand edit would leave it: the digest state no longer parses.
      await uploads.save({
        ...record('k/damaged', 'u1', 2, '2026-11-30T09:00:00.000Z'),
        sha256: { h: [1], length: -1, pending: '' },
      });
      const read = await uploads.find('ferry', 'k/damaged');
      assert.equal(read?.uploadId, 'u1', 'still found, so the upload can be aborted or continued');
      assert.deepEqual(read?.parts, []);
      assert.equal(read?.length, 0);
      assert.equal(read?.sha256.length, 0);
      assert.equal((await uploads.staleSince('ferry', new Date('2026-12-01T00:00:00.000Z'), 10)).length, 1);
    } finally {
      await store.close();
      await cleanup();
    }
  });
}
