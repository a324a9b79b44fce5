// Cluster mode on S3: two `ferry serve` nodes on one PostgreSQL store and one bucket (s3rver) behind HAProxy. The
// node carrying an OpenSSH upload is killed with -9 half-way; its multipart upload stays open in the bucket with
// its stored parts recorded in the store. `reput` through HAProxy lands on the survivor, which continues that same
// upload: the client sends only the missing bytes, no stored part is sent to S3 again, and the file is whole.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { type S3Server, startS3rver } from '../src/vfs/s3/s3rver-fixture.js';
import { runFerry } from './helpers/cli.js';
import { type ClusterNode, startClusterNode } from './helpers/cluster-node.js';
import { HAPROXY, startHaproxy } from './helpers/haproxy.js';
import { sftpBatch } from './helpers/openssh.js';

const unavailable = (await postgresUnavailable()) ?? (HAPROXY ? undefined : 'haproxy is not installed');
const PASSWORD = 'S3-fa1lover-pa55';
const MiB = 1024 * 1024;
/** Six 8 MiB parts and a tail: the kill lands once three parts (half) are stored. */
const SIZE = 48 * MiB + 12_345;
const PARTIAL_KEY = 'homes/alice/.ferry-part.big.bin';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function keysUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

interface Row {
  upload_id: string;
  length: string;
  parts: string;
}

/** The store's record of the partial's multipart upload, once it reaches `atLeast` bytes (or now, with 0). */
async function uploadRecord(db: pg.Client, atLeast: number, until: () => boolean): Promise<Row | undefined> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { rows } = await db.query<Row>('SELECT upload_id, length, parts FROM s3_uploads WHERE key = $1', [
      PARTIAL_KEY,
    ]);
    const row = rows[0];
    if (atLeast === 0 || (row && Number(row.length) >= atLeast)) return row;
    assert.ok(until(), 'the upload is still running before half of it is stored');
    assert.ok(Date.now() < deadline, `the upload never stored ${atLeast} bytes: ${JSON.stringify(row)}`);
    await delay(25);
  }
}

/** Which node holds the one open session, read from the node registry's heartbeats in the store. */
async function nodeWithSession(db: pg.Client): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await db.query<{ node_id: string }>('SELECT node_id FROM nodes WHERE sessions > 0');
    if (rows.length === 1) return rows[0]!.node_id;
    assert.ok(Date.now() < deadline, `no single node with the session: ${JSON.stringify(rows)}`);
    await delay(50);
  }
}

/** The UploadPart and CompleteMultipartUpload requests s3rver served for `uploadId`, from its request log. */
function multipartRequests(lines: readonly string[], uploadId: string) {
  const parts: number[] = [];
  let completed = 0;
  let created = 0;
  for (const line of lines) {
    const [method, url, status] = line.split(' ');
    const u = new URL(url ?? '/', 'http://s3');
    if (!u.pathname.endsWith('/.ferry-part.big.bin')) continue;
    if (method === 'POST' && u.searchParams.has('uploads')) created++;
    if (u.searchParams.get('uploadId') !== uploadId || status !== '200') continue;
    if (method === 'PUT') parts.push(Number(u.searchParams.get('partNumber')));
    if (method === 'POST') completed++;
  }
  return { parts, completed, created };
}

test('kill -9 of the node carrying an S3 upload: reput through HAProxy continues the same multipart upload on the other node', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-s3-failover-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const s3 = await startS3rver('ferry-cluster', { logRequests: true });
  t.after(() => s3.stop());
  const client = s3.client();
  t.after(() => client.destroy());
  const s3Env = {
    FERRY_STORAGE_BACKEND: 's3',
    FERRY_STORAGE_BUCKET: s3.bucket,
    FERRY_STORAGE_PREFIX: 'homes',
    FERRY_STORAGE_ENDPOINT: s3.endpoint,
    FERRY_STORAGE_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
  // The data dir holds only the master key here (shared as in the POSIX failover test); homes are in the bucket.
  const dataDir = join(work, 'shared');
  const store = ['--data-dir', dataDir, '--store', db.url];
  assert.equal((await runFerry(['init', ...store], '', s3Env)).code, 0);
  const added = await runFerry(
    ['users', 'add', 'alice', '--password-stdin', ...store],
    `${PASSWORD}\n`,
    s3Env,
  );
  assert.equal(added.code, 0, added.stderr);

  const nodeArgs = (id: string) => [
    ...store,
    '--workers',
    '1',
    '--node-id',
    id,
    '--proxy-protocol-from',
    '127.0.0.0/8',
  ];
  const env = { ...s3Env, FERRY_NODE_HEARTBEAT_SECONDS: '0.3' };
  const nodes = new Map<string, ClusterNode>();
  const [a, b] = await Promise.all([
    startClusterNode('127.0.0.41', nodeArgs('node-a'), t, env),
    startClusterNode('127.0.0.42', nodeArgs('node-b'), t, env),
  ]);
  nodes.set('node-a', a);
  nodes.set('node-b', b);
  const haproxy = await startHaproxy(
    [a, b].map((n) => ({ sftp: `${n.address}:${n.port}`, httpPort: n.httpPort })),
    'send-proxy-v2',
  );
  t.after(() => haproxy.stop());
  const pgClient = new pg.Client({ connectionString: db.url });
  await pgClient.connect();
  try {
    await failOver(pgClient, { nodes, haproxyPort: haproxy.port, s3, client, work, store, s3Env });
  } finally {
    // Before the database is dropped (an after hook), which would cut this connection.
    await pgClient.end();
  }
});

async function failOver(
  pgClient: pg.Client,
  o: {
    nodes: Map<string, ClusterNode>;
    haproxyPort: number;
    s3: S3Server;
    client: S3Client;
    work: string;
    store: string[];
    s3Env: Record<string, string>;
  },
): Promise<void> {
  const { nodes, s3, client, work, store, s3Env } = o;

  const data = randomBytes(SIZE);
  const local = join(work, 'big.bin');
  await writeFile(local, data);
  const sftp = (batch: string, extraArgs: string[] = []) =>
    sftpBatch({
      port: o.haproxyPort,
      user: 'alice',
      password: PASSWORD,
      options: ['BindAddress=127.0.0.2'],
      extraArgs,
      batch,
    });
  // About 5 MB/s (-l is in Kbit/s): the upload is still under way when half of it is stored.
  let uploading = true;
  const upload = sftp(`put ${local} /big.bin\n`, ['-l', '40000']).finally(() => {
    uploading = false;
  });
  const holder = await nodeWithSession(pgClient);
  const victim = nodes.get(holder)!;
  const survivor = [...nodes.values()].find((n) => n !== victim)!;
  await uploadRecord(pgClient, SIZE / 2, () => uploading);
  await victim.killNode();
  const cut = await upload;
  assert.notEqual(cut.code, 0, 'the cut upload fails on the client');

  // Nothing published: the dead node never completed its multipart upload, which the store still records.
  assert.deepEqual(
    await keysUnder(client, s3.bucket, 'homes/alice/'),
    [],
    'no object, neither file nor partial',
  );
  const left = await uploadRecord(pgClient, 0, () => true);
  assert.ok(left, 'the multipart upload is recorded in the store');
  const stored = Number(left.length);
  const storedParts = (JSON.parse(left.parts) as { partNumber: number }[]).map((p) => p.partNumber);
  assert.ok(stored >= SIZE / 2 && stored < SIZE, `${stored} bytes stored of ${SIZE}`);
  assert.equal(stored % (8 * MiB), 0, 'whole parts only');
  assert.deepEqual(
    storedParts,
    Array.from({ length: stored / (8 * MiB) }, (_, i) => i + 1),
    'parts 1..n without a gap',
  );
  const requestsBefore = (await s3.requests()).length;

  // The client comes back through the same balancer; the dead node refuses, HAProxy sends it to the survivor.
  // Until the dead node has missed 3 heartbeats its claim on the partial stands, so an early reput is refused as
  // in progress and the client tries again, as a person would.
  let r = await sftp(`reput ${local} /big.bin\n`);
  for (let attempt = 1; r.code !== 0 && /in progress|Failure/i.test(r.stderr) && attempt < 40; attempt++) {
    await delay(250);
    r = await sftp(`reput ${local} /big.bin\n`);
  }
  assert.equal(r.code, 0, r.stderr + r.stdout);

  assert.deepEqual(
    await keysUnder(client, s3.bucket, 'homes/alice/'),
    ['homes/alice/big.bin'],
    'no partial left',
  );
  const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'homes/alice/big.bin' }));
  const body = Buffer.from(await got.Body!.transformToByteArray());
  const digest = sha256(data);
  assert.equal(sha256(body), digest, 'the object is the whole file');
  const tags = await client.send(
    new GetObjectTaggingCommand({ Bucket: s3.bucket, Key: 'homes/alice/big.bin' }),
  );
  assert.deepEqual(tags.TagSet, [{ Key: 'ferry-sha256', Value: digest }]);
  assert.equal(
    (await uploadRecord(pgClient, 0, () => true)) ?? null,
    null,
    'the record went with completion',
  );

  // S3's side: the survivor continued the dead node's upload (no new one), sending only the parts after the stored
  // ones, then completed it.
  const after = multipartRequests((await s3.requests()).slice(requestsBefore), left.upload_id);
  assert.equal(after.created, 0, 'no new multipart upload for the partial');
  assert.ok(after.parts.length > 0, 'the missing parts were sent');
  assert.ok(
    after.parts.every((n) => n > storedParts.length),
    `no stored part sent again: ${after.parts} after ${storedParts}`,
  );
  assert.equal(after.completed, 1, 'the same upload completed');

  const verify = await runFerry(['audit', 'verify', ...store], '', s3Env);
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  const { rows } = await pgClient.query<{
    action: string;
    detail: string;
    node: string | null;
    result: string;
  }>("SELECT action, detail, node, result FROM audit_log WHERE action IN ('auth', 'upload') ORDER BY seq");
  const survivorId = holder === 'node-a' ? 'node-b' : 'node-a';
  const logins = rows.filter((row) => row.action === 'auth');
  assert.ok(
    logins.some((row) => row.node === holder),
    `a login on ${holder}: ${JSON.stringify(logins)}`,
  );
  assert.ok(
    logins.some((row) => row.node === survivorId),
    `a login on ${survivorId}`,
  );
  const completed = rows.filter((row) => row.action === 'upload' && row.result === 'ok').at(-1);
  assert.equal(completed?.node, survivorId, 'the upload completed on the survivor');
  // The client's side: the reput sent the bytes after the stored parts, and only those.
  const detail = JSON.parse(completed?.detail ?? '{}') as {
    bytes: number;
    resumedFrom: number;
    sha256: string;
  };
  assert.equal(detail.resumedFrom, stored);
  assert.equal(detail.bytes, SIZE - stored, 'only the missing bytes were sent');
  assert.equal(detail.sha256, digest, 'the audit digest covers the whole file');
  assert.equal(survivor.child.exitCode, null, 'the survivor still serves');
  assert.ok((await readFile(local)).equals(data));
}
