// Runs the Fs contract against the S3 backend on a real S3-compatible server (s3rver), a fresh prefix per test.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { FerryError } from '../../errors.js';
import { runFsContract } from '../contract.js';
import { S3Fs } from './s3-fs.js';
import { homePrefixOf } from './s3-home.js';
import { type S3Server, startS3rver } from './s3rver-fixture.js';

let server: S3Server;
let client: S3Client;
before(async () => {
  server = await startS3rver();
  client = server.client();
});
after(async () => {
  client.destroy();
  await server.stop();
});

runFsContract('s3 (s3rver)', async () => {
  // A small listing page makes the streaming-listing test exercise many pages.
  const fs = new S3Fs({ client, bucket: server.bucket, prefix: `t-${randomUUID()}`, dirBatchSize: 100 });
  await fs.mkdir('/root');
  return { fs, root: '/root', cleanup: async () => undefined };
});

test('a home prefix confines: no path reaches a neighbour whose name extends it', async () => {
  const run = randomUUID();
  const alice = new S3Fs({ client, bucket: server.bucket, prefix: `${run}/alice` });
  const alice2 = new S3Fs({ client, bucket: server.bucket, prefix: `${run}/alice2` });
  const f = await alice2.open('/secret', { read: false, write: true, create: true });
  await f.write(0, Buffer.from('s3cr3t'));
  await f.close();
  await alice.mkdir('/in');
  for (const path of ['/../alice2/secret', '/in/../../alice2/secret', '/..', 'secret', '/a\0b']) {
    await assert.rejects(
      alice.stat(path),
      (err: unknown) => err instanceof FerryError && err.code === 'ERR_INVALID_PATH',
      path,
    );
  }
  await assert.rejects(
    alice.stat('/secret'),
    (err: unknown) => err instanceof FerryError && err.code === 'ERR_NOT_FOUND',
  );
  const dir = await alice.opendir('/');
  const names: string[] = [];
  for (let batch = await dir.read(); batch; batch = await dir.read()) names.push(...batch.map((e) => e.name));
  assert.deepEqual(names, ['in'], 'the listing of / is alice’s own');
  assert.equal(homePrefixOf('homes', '/data/homes', '/data/homes/alice'), 'homes/alice');
  assert.equal(homePrefixOf('', '/data/homes', '/srv/x/'), 'srv/x');
  assert.equal(homePrefixOf('p', '/data/homes', '/data/homes-evil/bob'), 'p/data/homes-evil/bob');
});

test('a directory renamed on S3 moves every object under it, contents and times kept, the old name gone', async () => {
  const fs = new S3Fs({ client, bucket: server.bucket, prefix: `t-${randomUUID()}` });
  const read = async (path: string): Promise<string> => {
    const f = await fs.open(path, { read: true, write: false });
    const data = await f.read(0, 64);
    await f.close();
    return data.toString();
  };
  await fs.mkdir('/a');
  await fs.mkdir('/a/sub');
  // More objects than are moved at once, across two levels.
  const files = Array.from({ length: 11 }, (_, i) => (i % 2 ? `/a/f${i}` : `/a/sub/f${i}`));
  for (const path of files) {
    const f = await fs.open(path, { read: false, write: true, create: true });
    await f.write(0, Buffer.from(`content of ${path}`));
    await f.close();
  }
  await fs.utimes('/a/f1', 1_000_000, 2_000_000); // seconds
  await fs.rename('/a', '/b');
  await assert.rejects(
    fs.stat('/a'),
    (err: unknown) => err instanceof FerryError && err.code === 'ERR_NOT_FOUND',
  );
  for (const path of files) assert.equal(await read(path.replace(/^\/a/, '/b')), `content of ${path}`);
  assert.equal((await fs.stat('/b/sub')).kind, 'directory');
  assert.equal((await fs.stat('/b/f1')).mtimeMs, 2_000_000_000, 'the time set before the move is kept');
});
