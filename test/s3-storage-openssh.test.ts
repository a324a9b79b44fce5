// `ferry serve` with homes on S3 (a real s3rver): OpenSSH sftp put/get of a multipart file, ls, mkdir, rename, rm;
// an interrupted upload never shows as a complete object, and `reput` finishes it without the client re-sending.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { type S3Server, startS3rver } from '../src/vfs/s3/s3rver-fixture.js';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { sha256File } from './helpers/files.js';
import { commonSshOptions, sftpBatch } from './helpers/openssh.js';

const PASSWORD = 'S3-storage-pa55';
const MiB = 1024 * 1024;
let work: string;
let s3: S3Server;
let client: S3Client;
let server: ChildProcess;
let port: number;
let env: NodeJS.ProcessEnv;
let serverLog = () => '';
/** A multipart upload recorded in the store two days ago, as a node that died would have left it. */
let abandoned: { key: string; uploadId: string };
/** A secret only the server's environment holds: it must never show in its output. */
const SECRET = `ferry-test-${randomBytes(8).toString('hex')}`;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-s3-'));
  s3 = await startS3rver();
  client = s3.client();
  const dataDir = join(work, 'data');
  env = {
    FERRY_DATA_DIR: dataDir,
    FERRY_STORAGE_BACKEND: 's3',
    FERRY_STORAGE_BUCKET: s3.bucket,
    FERRY_STORAGE_PREFIX: 'homes',
    FERRY_STORAGE_ENDPOINT: s3.endpoint,
    FERRY_STORAGE_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    // s3rver ignores session tokens; the server must carry it without ever printing it.
    AWS_SESSION_TOKEN: SECRET,
    FERRY_ALLOW_LIST: '127.0.0.1',
    FERRY_HTTP_LISTEN: '127.0.0.1:0',
    FERRY_STORAGE_ABANDONED_UPLOAD_HOURS: '24',
  };
  const init = await runFerry(['init'], '', env);
  assert.equal(init.code, 0, init.stderr);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin'], `${PASSWORD}\n`, env);
  assert.equal(added.code, 0, added.stderr);
  abandoned = await leaveAbandonedUpload(join(dataDir, 'ferry.db'));
  server = spawn(
    process.execPath,
    [FERRY_BIN, 'serve', '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '1'],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'info', ...env } },
  );
  let out = '';
  let errText = '';
  server.stderr?.on('data', (d: Buffer) => {
    if (process.env.S3_TEST_LOG) process.stderr.write(d);
    errText += d.toString();
  });
  port = await new Promise<number>((resolve, reject) => {
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', () => reject(new Error(out + errText)));
  });
  serverLog = () => out + errText;
});

after(async () => {
  if (server && server.exitCode === null) {
    await new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.kill('SIGTERM');
    });
  }
  client?.destroy();
  await s3?.stop();
  assert.ok(!serverLog().includes(SECRET), 'the S3 secret key is never logged');
  await rm(work, { recursive: true, force: true });
});

async function leaveAbandonedUpload(storeFile: string): Promise<{ key: string; uploadId: string }> {
  const key = 'homes/alice/.ferry-part.gone.bin';
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
  const uploadId = created.UploadId ?? '';
  const part = await client.send(
    new UploadPartCommand({
      Bucket: s3.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: 1,
      Body: randomBytes(5 * MiB),
    }),
  );
  const store = await openSqliteStore(storeFile);
  try {
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    await store.s3Uploads.save({
      bucket: s3.bucket,
      key,
      uploadId,
      partSize: 5 * MiB,
      parts: [{ partNumber: 1, etag: part.ETag ?? '', size: 5 * MiB }],
      length: 5 * MiB,
      sha256: { h: [0, 0, 0, 0, 0, 0, 0, 0], length: 5 * MiB, pending: '' },
      metadata: {},
      createdAt: twoDaysAgo,
      updatedAt: twoDaysAgo,
    });
  } finally {
    await store.close();
  }
  return { key, uploadId };
}

const sftp = (batch: string) => sftpBatch({ port, user: 'alice', password: PASSWORD, batch, cwd: work });

async function keysUnder(prefix: string): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? '').sort();
}

test('sftp put/get of a 20 MiB file through multipart, with mkdir, ls, rename and rm', async () => {
  const data = randomBytes(20 * MiB + 12_345);
  await writeFile(join(work, 'big.bin'), data);
  const digest = await sha256File(join(work, 'big.bin'));
  const up = await sftp(
    'mkdir in\nput big.bin in/big.bin\nrename in/big.bin in/moved.bin\nls -l in\nget in/moved.bin back.bin\n',
  );
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, /moved\.bin/);
  assert.doesNotMatch(up.stdout, /^-.*\sbig\.bin$/m, 'the old name is gone after rename');
  assert.equal(await sha256File(join(work, 'back.bin')), digest, 'downloaded byte-identical');
  // What S3 holds: the directory marker and the object under the user's prefix, nothing else (no partial).
  assert.deepEqual(await keysUnder('homes/alice/'), ['homes/alice/in/', 'homes/alice/in/moved.bin']);
  const head = await client.send(
    new HeadObjectCommand({ Bucket: s3.bucket, Key: 'homes/alice/in/moved.bin' }),
  );
  assert.equal(head.ContentLength, data.length);
  const tags = await client.send(
    new GetObjectTaggingCommand({ Bucket: s3.bucket, Key: 'homes/alice/in/moved.bin' }),
  );
  assert.deepEqual(tags.TagSet, [{ Key: 'ferry-sha256', Value: digest }], 'SHA-256 stored with the object');
  // The audit's digest of the upload is the one stored with the object.
  const audit = await runFerry(['audit', 'query', '--action', 'upload', '--json'], '', env);
  assert.equal(audit.code, 0, audit.stderr);
  assert.ok(audit.stdout.includes(digest), 'the audit record of the upload carries the same SHA-256');

  const down = await sftp('rm in/moved.bin\nrmdir in\nls -la\n');
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await keysUnder('homes/alice/'), []);
});

test('a non-empty directory is not removed', async () => {
  await writeFile(join(work, 'small.txt'), 'hello\n');
  const r = await sftp('mkdir d\nput small.txt d/small.txt\n-rmdir d\nls d\n');
  assert.match(r.stderr, /rmdir.*(fail|Failure|not empty)/i);
  assert.match(r.stdout, /small\.txt/);
  assert.deepEqual(await keysUnder('homes/alice/d/'), ['homes/alice/d/', 'homes/alice/d/small.txt']);
});

test('an interrupted upload never shows as a complete object; reput finishes it without re-sending', async () => {
  const data = randomBytes(24 * MiB + 777);
  await writeFile(join(work, 'resume.bin'), data);
  // A bandwidth-limited put, killed once S3 holds its first part (8 MiB): the multipart upload is under way.
  const put = spawn(
    'sshpass',
    [
      '-e',
      'sftp',
      ...commonSshOptions({ port, user: 'alice', password: PASSWORD }),
      '-l',
      '24000',
      '-P',
      String(port),
      '-b',
      '-',
      'alice@127.0.0.1',
    ],
    { cwd: work, env: { ...process.env, SSHPASS: PASSWORD }, stdio: ['pipe', 'ignore', 'ignore'] },
  );
  put.stdin.end('put resume.bin resume.bin\n');
  const exited = once(put, 'exit');
  for (;;) {
    const files = await readdir(s3.directory, { recursive: true });
    if (files.some((f) => /uploads\/[^/]+\/1$/.test(f))) break;
    assert.equal(put.exitCode, null, 'the put is still running when its first part is stored');
    await new Promise((r) => setTimeout(r, 50));
  }
  put.kill('SIGKILL');
  await exited;
  // Whatever the server has done with the partial, the real name never holds an object of the wrong size.
  const ls = await sftp('ls -l\n');
  assert.equal(ls.code, 0, ls.stderr);
  let keys = await keysUnder('homes/alice/');
  assert.ok(!keys.includes('homes/alice/resume.bin'), `no complete object under the name: ${keys.join(' ')}`);
  // What was stored is kept as the upload's hidden partial: reput sends from its size, not from 0. The server
  // stores it when it notices the dropped connection, which may be after the `ls` above: wait for it a while.
  for (let i = 0; i < 100 && !keys.some((k) => k.includes('resume.bin')); i++) {
    await new Promise((r) => setTimeout(r, 100));
    keys = await keysUnder('homes/alice/');
  }
  assert.ok(!keys.includes('homes/alice/resume.bin'), `no complete object under the name: ${keys.join(' ')}`);
  const partial = keys.find((k) => k.includes('resume.bin'));
  assert.ok(partial, `a partial is kept: ${keys.join(' ')}`);
  const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: partial }));
  const size = head.ContentLength ?? 0;
  assert.ok(size >= 8 * MiB && size < data.length, `partial of ${size} bytes kept for the resume`);
  const resumed = await sftp('reput resume.bin resume.bin\n');
  assert.equal(resumed.code, 0, resumed.stderr);
  const back = await sftp('get resume.bin resume-back.bin\n');
  assert.equal(back.code, 0, back.stderr);
  assert.ok(
    (await readFile(join(work, 'resume-back.bin'))).equals(data),
    'the resumed file is byte-identical',
  );
  assert.ok((await keysUnder('homes/alice/')).includes('homes/alice/resume.bin'));
});

test('an upload nobody continued for storage.abandonedUploadHours is aborted by the server, its parts freed', async () => {
  const held = join(s3.directory, s3.bucket, '._S3rver_uploads', abandoned.uploadId);
  // The sweeper runs as the server starts, then hourly.
  for (let i = 0; i < 100 && existsSync(held); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(existsSync(held), false, 'the multipart upload is aborted');
  const store = await openSqliteStore(join(work, 'data', 'ferry.db'), { readonly: true });
  try {
    assert.equal(await store.s3Uploads.find(s3.bucket, abandoned.key), undefined, 'its record is removed');
  } finally {
    await store.close();
  }
  assert.match(serverLog(), /abandoned S3 uploads aborted/);
  const ls = await sftp('ls -la\n');
  assert.doesNotMatch(ls.stdout, /gone\.bin/);
});

test('a user cannot be set to encrypted storage (on or off) on S3: one line, nothing changed; default is accepted', async () => {
  for (const mode of ['on', 'off']) {
    const r = await runFerry(['users', 'set', 'alice', '--storage-encryption', mode], '', env);
    assert.notEqual(r.code, 0);
    // Ferry's own lines (on Node 20 the AWS SDK adds its multi-line end-of-support warning to stderr).
    const own = r.stderr.split('\n').filter((line) => line.startsWith('ferry:'));
    assert.equal(own.length, 1, r.stderr);
    assert.match(own[0]!, /encrypted storage needs random writes, which S3 storage has not/);
  }
  assert.equal(
    (await runFerry(['users', 'set', 'alice', '--storage-encryption', 'default'], '', env)).code,
    0,
  );
  assert.match(
    (await runFerry(['users', 'show', 'alice'], '', env)).stdout,
    /encryption: +the server's setting/,
  );
});
