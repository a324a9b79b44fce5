// A session draws handles from its connection's budget, gives them back, and stops long work when its connection goes.
import assert from 'node:assert/strict';
import { mkdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResourceLedger } from './budgets.js';
import { makeSessionFixture, READ, READ_WRITE, UPLOAD } from './session-fixture.js';

const ledger = () =>
  new ResourceLedger({
    handles: { perConnection: 3, perUser: 4 },
    replyBytes: { perConnection: 1024, perUser: 1024 },
  });

test('open handles are counted per connection and per user, and given back on close and at session end', async () => {
  const fx = await makeSessionFixture();
  try {
    await mkdir(fx.homeDir, { recursive: true });
    await writeFile(join(fx.homeDir, 'a.txt'), 'alpha');
    const budgets = ledger();
    const one = budgets.openConnection('alice');
    const two = budgets.openConnection('alice');
    // Two sessions (channels) of one connection share its account.
    const s1 = fx.open(undefined, { handles: one.handles });
    const s2 = fx.open(undefined, { handles: one.handles });
    const h1 = await s1.openFile('/a.txt', READ);
    await s1.openDir('/');
    await s2.openFile('/a.txt', READ);
    await assert.rejects(s2.openFile('/a.txt', READ), /Too many open handles on this connection \(limit 3\)/);
    // The user's other connection gets what is left of the user's budget.
    const s3 = fx.open(undefined, { handles: two.handles });
    await s3.openFile('/a.txt', READ);
    await assert.rejects(s3.openDir('/'), /for user alice across connections \(limit 4\)/);
    // A failed open takes nothing; a close gives one back.
    await h1.close();
    await assert.rejects(s3.openFile('/missing', READ), { code: 'ERR_NOT_FOUND' });
    await s3.openFile('/a.txt', READ);
    await s2.close();
    await s1.close();
    assert.equal(one.handles.used, 0, 'session end gave every handle back');
    assert.equal(budgets.handles.usedBy('alice'), 2);
    one.close();
    two.close();
    assert.equal(budgets.handles.usedBy('alice'), 0);
  } finally {
    await fx.cleanup();
  }
});

test('check-file is bounded by maxHashBytes, audited, and stops when the connection goes; so does copy-data', async () => {
  const fx = await makeSessionFixture({ limits: { maxHashBytes: 4 * 1024 * 1024 }, uploadMode: 'direct' });
  try {
    await mkdir(fx.homeDir, { recursive: true });
    await writeFile(join(fx.homeDir, 'sparse'), '');
    await truncate(join(fx.homeDir, 'sparse'), 64 * 1024 * 1024);
    const gone = new AbortController();
    const session = fx.open(undefined, { signal: gone.signal });
    const file = await session.openFile('/sparse', READ);
    await assert.rejects(
      file.checksum({ algorithm: 'sha256', offset: 0, length: 0, blockSize: 0 }),
      /check-file range of 67108864 bytes exceeds the limit of 4194304 bytes per request/,
    );
    const [digest] = await file.checksum({ algorithm: 'md5', offset: 0, length: 1024 * 1024, blockSize: 0 });
    assert.equal(digest?.length, 16);
    const blocks = await file.checksum({ algorithm: 'sha1', offset: 0, length: 4096, blockSize: 1024 });
    assert.equal(blocks.length, 4);
    const audited = fx.fileOps().filter((e) => e.operation === 'checksum');
    assert.deepEqual(
      audited.map((e) => [e.path, e.ok, e.detail?.bytes]),
      [
        ['/sparse', false, 0],
        ['/sparse', true, 1024 * 1024],
        ['/sparse', true, 4096],
      ],
    );
    const request = new AbortController();
    request.abort();
    await assert.rejects(
      file.checksum(
        { algorithm: 'sha256', offset: 0, length: 1024 * 1024, blockSize: 0 },
        { signal: request.signal },
      ),
    );
    const target = await session.openFile('/copy', UPLOAD);
    const source = await session.openFile('/sparse', READ_WRITE);
    gone.abort();
    await assert.rejects(file.checksum({ algorithm: 'sha256', offset: 0, length: 1024, blockSize: 0 }));
    await assert.rejects(session.copyData(source, 0, 0, target, 0));
  } finally {
    await fx.cleanup();
  }
});

test('an out-of-order upload larger than maxHashBytes completes without a SHA-256 instead of hashing it all', async () => {
  const fx = await makeSessionFixture({ limits: { maxHashBytes: 1024 * 1024 } });
  try {
    const session = fx.open();
    const handle = await session.openFile('/holey', UPLOAD);
    await handle.write(8 * 1024 * 1024, Buffer.from('end'));
    await handle.write(0, Buffer.from('start'));
    await handle.close();
    const [upload] = fx.transfers();
    assert.equal(upload?.completed, true);
    assert.equal(upload?.sha256, undefined);
  } finally {
    await fx.cleanup();
  }
});
