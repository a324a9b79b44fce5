// Multipart uploads whose process died, on a real S3-compatible server (s3rver): with their parts recorded in a
// ledger, another Fs continues the same upload without sending the stored parts again; the sweeper aborts them.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetObjectCommand, GetObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import type { MultipartLedger, MultipartRecord } from './multipart-ledger.js';
import { sweepAbandonedUploads } from './multipart-sweeper.js';
import { S3Fs } from './s3-fs.js';
import { type S3Server, startS3rver } from './s3rver-fixture.js';

const MiB = 1024 * 1024;
let server: S3Server;
const clients: S3Client[] = [];

before(async () => {
  server = await startS3rver();
});
after(async () => {
  for (const c of clients) c.destroy();
  await server.stop();
});

/** The ledger's contract in memory (the store's table in a server), shared by the Fs's of two "nodes". */
class MemoryLedger implements MultipartLedger {
  readonly rows = new Map<string, MultipartRecord>();
  async find(bucket: string, key: string) {
    return this.rows.get(`${bucket}/${key}`);
  }
  async save(r: MultipartRecord) {
    this.rows.set(`${r.bucket}/${r.key}`, structuredClone(r));
  }
  async remove(bucket: string, key: string, uploadId: string) {
    if (this.rows.get(`${bucket}/${key}`)?.uploadId === uploadId) this.rows.delete(`${bucket}/${key}`);
  }
  async staleSince(bucket: string, before: Date, limit: number) {
    return [...this.rows.values()]
      .filter((r) => r.bucket === bucket && r.updatedAt < before)
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
      .slice(0, limit);
  }
}

/** A client of its own (a node), counting the parts it sends. */
function node(): { client: S3Client; partsSent: number[] } {
  const client = server.client();
  clients.push(client);
  const seen = { client, partsSent: [] as number[] };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'UploadPartCommand') {
        seen.partsSent.push((args.input as { PartNumber: number }).PartNumber);
      }
      return next(args);
    },
    { step: 'initialize' },
  );
  return seen;
}

/** Whether the server still holds the multipart upload (its parts). */
const uploadHeld = (uploadId: string) =>
  existsSync(join(server.directory, server.bucket, '._S3rver_uploads', uploadId));

async function untilRecorded(ledger: MultipartLedger, key: string, length: number): Promise<MultipartRecord> {
  for (let i = 0; i < 200; i++) {
    const r = await ledger.find(server.bucket, key);
    if (r && r.length >= length) return r;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${key} never recorded ${length} bytes`);
}

test('an upload left open by a dead process is continued by another node from its recorded parts, none sent again', async () => {
  const ledger = new MemoryLedger();
  const prefix = `t-${randomUUID()}`;
  const data = randomBytes(20 * MiB + 5);
  const a = node();
  const fsA = new S3Fs({ client: a.client, bucket: server.bucket, prefix, ledger });
  const dying = await fsA.open('/big.bin', { read: true, write: true, create: true, truncate: true });
  await dying.write(0, data.subarray(0, 18 * MiB));
  // Two 8 MiB parts stored; 2 MiB still in the dead process' memory: lost, and sent again by the client.
  const record = await untilRecorded(ledger, `${prefix}/big.bin`, 16 * MiB);
  assert.equal(record.length, 16 * MiB);
  assert.deepEqual(
    record.parts.map((p) => p.partNumber),
    [1, 2],
  );
  // `dying` is never closed: its process is gone.

  // Another home (a neighbour whose prefix extends this one) sees nothing of it, by any name.
  const neighbour = new S3Fs({ client: a.client, bucket: server.bucket, prefix: `${prefix}x`, ledger });
  for (const path of ['/big.bin', '/../big.bin']) {
    await assert.rejects(neighbour.stat(path), /not found|no such|invalid/i, path);
  }
  await assert.rejects(
    neighbour.open('/big.bin', { read: true, write: true, create: false }),
    /not found|no such/i,
  );

  const b = node();
  const fsB = new S3Fs({ client: b.client, bucket: server.bucket, prefix, ledger });
  assert.equal((await fsB.stat('/big.bin')).size, 16 * MiB, 'stat reports what the recorded parts hold');
  const file = await fsB.open('/big.bin', { read: true, write: true, create: true });
  assert.equal((await file.stat()).size, 16 * MiB);
  const digest = file.resumeSha256?.(16 * MiB);
  assert.ok(digest, 'the digest continues from the recorded state');
  await assert.rejects(
    file.read(0, 10),
    /cannot read back/,
    'stored parts are not readable before completion',
  );
  await file.write(16 * MiB, data.subarray(16 * MiB));
  digest.update(data.subarray(16 * MiB));
  await file.close();
  assert.deepEqual(b.partsSent, [3], 'only the part after the recorded ones was sent');
  assert.equal(
    await ledger.find(server.bucket, `${prefix}/big.bin`),
    undefined,
    'the record goes with completion',
  );

  const got = await b.client.send(new GetObjectCommand({ Bucket: server.bucket, Key: `${prefix}/big.bin` }));
  const stored = Buffer.from(
    await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
  assert.ok(stored.equals(data), 'the object is the whole file');
  const sha256 = createHash('sha256').update(data).digest('hex');
  assert.equal(digest.digest('hex'), sha256);
  const tags = await b.client.send(
    new GetObjectTaggingCommand({ Bucket: server.bucket, Key: `${prefix}/big.bin` }),
  );
  assert.deepEqual(
    tags.TagSet,
    [{ Key: 'ferry-sha256', Value: sha256 }],
    'the stored digest covers every part',
  );
});

test('a new upload over an abandoned one, starting it over, or its removal aborts the abandoned upload', async () => {
  const ledger = new MemoryLedger();
  const prefix = `t-${randomUUID()}`;
  const a = node();
  const fs = new S3Fs({ client: a.client, bucket: server.bucket, prefix, ledger });
  for (const finish of ['truncate', 'restart', 'unlink'] as const) {
    const dying = await fs.open('/x.bin', { read: true, write: true, create: true, truncate: true });
    await dying.write(0, randomBytes(9 * MiB));
    const record = await untilRecorded(ledger, `${prefix}/x.bin`, 8 * MiB);
    if (finish === 'truncate') {
      const fresh = await fs.open('/x.bin', { read: true, write: true, create: true, truncate: true });
      await fresh.write(0, Buffer.from('new'));
      await fresh.close();
      assert.equal((await fs.stat('/x.bin')).size, 3);
    } else if (finish === 'restart') {
      // Continued, then emptied before a byte is written (a client starting over without O_TRUNC).
      const again = await fs.open('/x.bin', { read: true, write: true, create: true });
      assert.equal((await again.stat()).size, 8 * MiB);
      await again.truncate(0);
      await again.write(0, Buffer.from('over'));
      await again.close();
      assert.equal((await fs.stat('/x.bin')).size, 4);
    } else {
      await fs.unlink('/x.bin');
      await assert.rejects(fs.stat('/x.bin'), /not found|no such/i);
    }
    assert.equal(await ledger.find(server.bucket, `${prefix}/x.bin`), undefined, finish);
    assert.equal(uploadHeld(record.uploadId), false, `the abandoned upload is aborted (${finish})`);
    if (finish !== 'unlink') await fs.unlink('/x.bin');
  }
});

test('the sweeper aborts uploads not continued since the retention, and leaves newer ones', async () => {
  const ledger = new MemoryLedger();
  const prefix = `t-${randomUUID()}`;
  const a = node();
  const fs = new S3Fs({ client: a.client, bucket: server.bucket, prefix, ledger });
  const dying = await fs.open('/old.bin', { read: true, write: true, create: true });
  await dying.write(0, randomBytes(9 * MiB));
  const old = await untilRecorded(ledger, `${prefix}/old.bin`, 8 * MiB);
  const target = { client: a.client, bucket: server.bucket, ledger };
  assert.ok(uploadHeld(old.uploadId));
  const none = await sweepAbandonedUploads(target, new Date(old.updatedAt.getTime() - 1000));
  assert.deepEqual(none, { aborted: 0, failed: [] }, 'too recent');
  assert.ok(uploadHeld(old.uploadId));
  // Another upload's record whose upload S3 no longer has (aborted elsewhere): gone counts as aborted.
  await ledger.save({ ...old, key: `${prefix}/gone.bin`, uploadId: 'feedface' });
  const swept = await sweepAbandonedUploads(target, new Date(Date.now() + 1000));
  assert.deepEqual(swept, { aborted: 2, failed: [] });
  assert.equal(uploadHeld(old.uploadId), false, 'its parts are freed');
  assert.equal(ledger.rows.size, 0);
  await assert.rejects(fs.stat('/old.bin'), /not found|no such/i, 'nothing left to resume');
});

test('the sweeper keeps the record of an upload S3 refused to abort, and says why', async () => {
  const ledger = new MemoryLedger();
  const a = node();
  const record: MultipartRecord = {
    // A bucket this server does not have: S3 answers NoSuchBucket, which is no proof the upload is gone.
    bucket: 'no-such-bucket',
    key: 'refused.bin',
    uploadId: 'abc123',
    partSize: 8 * MiB,
    parts: [],
    length: 0,
    sha256: { h: [0, 0, 0, 0, 0, 0, 0, 0], length: 0, pending: '' },
    metadata: {},
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };
  await ledger.save(record);
  const out = await sweepAbandonedUploads({ client: a.client, bucket: 'no-such-bucket', ledger }, new Date());
  assert.equal(out.aborted, 0);
  assert.deepEqual(
    out.failed.map((f) => f.key),
    ['refused.bin'],
  );
  assert.match(out.failed[0]?.reason ?? '', /bucket does not exist/);
  assert.ok(await ledger.find('no-such-bucket', 'refused.bin'), 'kept for the next sweep');
});
