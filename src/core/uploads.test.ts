// Uploads are atomic, survive dropped connections as resumable partials, and are accounted with their SHA-256.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FerryError } from '../errors.js';
import {
  download,
  listNames,
  makeSessionFixture,
  READ,
  READ_WRITE,
  RESUME,
  type SessionFixture,
  UPLOAD,
  upload,
  writeAll,
} from './session-fixture.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function code(expected: FerryError['code']) {
  return (err: unknown) => err instanceof FerryError && err.code === expected;
}

describe('atomic uploads', () => {
  let fx: SessionFixture;
  beforeEach(async () => {
    fx = await makeSessionFixture();
  });
  afterEach(() => fx.cleanup());

  it('are never visible under their final name before close', async () => {
    const session = fx.open();
    const other = fx.open();
    const data = randomBytes(300_000);
    const handle = await session.openFile('/report.bin', UPLOAD);
    await writeAll(handle, data.subarray(0, 200_000));
    await assert.rejects(stat(join(fx.homeDir, 'report.bin')), /ENOENT/);
    await assert.rejects(other.openFile('/report.bin', READ), code('ERR_NOT_FOUND'));
    assert.deepEqual(await listNames(other, '/'), ['.', '..']);
    await writeAll(handle, data, 200_000);
    await handle.close();
    assert.ok((await readFile(join(fx.homeDir, 'report.bin'))).equals(data));
    assert.deepEqual(await readdir(fx.homeDir), ['report.bin'], 'the partial is gone');
    assert.ok((await download(other, '/report.bin')).equals(data));
  });

  it('replace an existing file only on close, keeping its mode', async () => {
    const session = fx.open();
    await upload(session, '/f.txt', Buffer.from('old content'));
    await session.setstat('/f.txt', { mode: 0o640 });
    const handle = await session.openFile('/f.txt', UPLOAD);
    await handle.write(0, Buffer.from('new'));
    assert.equal((await download(session, '/f.txt')).toString(), 'old content');
    await handle.close();
    assert.equal((await download(session, '/f.txt')).toString(), 'new');
    assert.equal((await stat(join(fx.homeDir, 'f.txt'))).mode & 0o777, 0o640);
  });

  it('resume after the connection drops, to a byte-identical file', async () => {
    const data = randomBytes(1_000_003);
    const first = fx.open();
    const handle = await first.openFile('/in.bin', UPLOAD);
    await writeAll(handle, data.subarray(0, 400_000));
    await first.close(); // the connection drops mid-transfer
    await assert.rejects(stat(join(fx.homeDir, 'in.bin')), /ENOENT/);
    assert.equal((await stat(join(fx.homeDir, '.ferry-part.in.bin'))).size, 400_000);

    // What OpenSSH `reput` does: stat the target for its size, then WRITE|CREAT|APPEND from there.
    const second = fx.open();
    const remoteSize = (await second.stat('/in.bin')).size;
    assert.equal(remoteSize, 400_000);
    assert.deepEqual(await listNames(second, '/'), ['.', '..'], 'the partial stays hidden');
    await assert.rejects(second.openFile('/in.bin', READ), code('ERR_NOT_FOUND'));
    const resumed = await second.openFile('/in.bin', RESUME);
    await writeAll(resumed, data, remoteSize);
    await resumed.close();

    assert.ok((await readFile(join(fx.homeDir, 'in.bin'))).equals(data));
    assert.deepEqual(await readdir(fx.homeDir), ['in.bin']);
    const [dropped, done] = fx.transfers();
    assert.equal(dropped?.completed, false);
    assert.equal(dropped?.bytes, 400_000);
    assert.equal(dropped?.resumedFrom, 0);
    assert.equal(done?.completed, true);
    assert.equal(done?.bytes, data.length - 400_000);
    assert.equal(done?.resumedFrom, 400_000);
    assert.equal(done?.sha256, sha256(data), 'the hash covers the resumed prefix too');
    assert.equal(done?.direction, 'upload');
    assert.equal(done?.sessionId, 'session-2');
  });

  it('restart a leftover partial written again from 0 without leaving its stale tail', async () => {
    const first = fx.open();
    const stale = await first.openFile('/x', UPLOAD);
    await stale.write(0, Buffer.from('stale content that is long'));
    await first.close();
    const second = fx.open();
    const fresh = await second.openFile('/x', { ...UPLOAD, truncate: false }); // WRITE|CREAT, no TRUNC
    await Promise.all([fresh.write(0, Buffer.from('new ')), fresh.write(4, Buffer.from('data'))]);
    await fresh.close();
    assert.equal(await readFile(join(fx.homeDir, 'x'), 'utf8'), 'new data');
    assert.equal(fx.transfers().at(-1)?.sha256, sha256(Buffer.from('new data')));
  });

  it('append to a complete file in place', async () => {
    const session = fx.open();
    await upload(session, '/log.txt', Buffer.from('line1\n'));
    const handle = await session.openFile('/log.txt', RESUME);
    await handle.write(0, Buffer.from('line2\n')); // append ignores the offset, like O_APPEND
    await handle.close();
    assert.equal(await readFile(join(fx.homeDir, 'log.txt'), 'utf8'), 'line1\nline2\n');
    const last = fx.transfers().at(-1);
    assert.equal(last?.resumedFrom, 6);
    assert.equal(last?.sha256, sha256(Buffer.from('line1\nline2\n')));
  });

  it('hide partials from listings, stat and open of their own names', async () => {
    await mkdir(fx.homeDir, { recursive: true });
    await writeFile(join(fx.homeDir, '.ferry-part.a'), 'partial');
    for (let i = 0; i < 300; i++) await writeFile(join(fx.homeDir, `.ferry-part.x${i}`), '');
    await writeFile(join(fx.homeDir, 'visible'), 'v');
    const session = fx.open();
    assert.deepEqual(await listNames(session, '/'), ['.', '..', 'visible']);
    await assert.rejects(session.stat('/.ferry-part.a'), code('ERR_NOT_FOUND'));
    await assert.rejects(session.openFile('/.ferry-part.a', READ), code('ERR_NOT_FOUND'));
    await assert.rejects(session.openFile('/.ferry-part.b', UPLOAD), code('ERR_PERMISSION_DENIED'));
    await assert.rejects(
      session.rename('/visible', '/.ferry-part.v', { overwrite: true }),
      code('ERR_PERMISSION_DENIED'),
    );
    await assert.rejects(session.mkdir('/.ferry-part.d'), code('ERR_PERMISSION_DENIED'));
    assert.equal((await session.stat('/a')).size, 7, 'stat of the target reports the partial');
    await session.remove('/a');
    await assert.rejects(stat(join(fx.homeDir, '.ferry-part.a')), /ENOENT/, 'remove abandons a partial');
  });

  it('refuse a second writer on the same partial until the first is done', async () => {
    const a = fx.open();
    const b = fx.open();
    const first = await a.openFile('/same', UPLOAD);
    await first.write(0, Buffer.from('one'));
    await assert.rejects(b.openFile('/same', UPLOAD), code('ERR_LIMIT'));
    await assert.rejects(b.openFile('/same', RESUME), code('ERR_LIMIT'));
    await assert.rejects(b.remove('/same'), code('ERR_LIMIT'));
    await first.close();
    await upload(b, '/same', Buffer.from('two'));
    assert.equal(await readFile(join(fx.homeDir, 'same'), 'utf8'), 'two');
  });

  it('report the SHA-256 of the content, in order or not', async () => {
    const session = fx.open();
    const data = randomBytes(200_000);
    await upload(session, '/seq', data);
    const outOfOrder = await session.openFile('/ooo', UPLOAD);
    await outOfOrder.write(100_000, data.subarray(100_000));
    await outOfOrder.write(0, data.subarray(0, 100_000));
    await outOfOrder.close();
    const empty = await session.openFile('/empty', UPLOAD);
    await empty.close();
    const [seq, ooo, none] = fx.transfers();
    assert.equal(seq?.sha256, sha256(data));
    assert.equal(seq?.bytes, data.length);
    assert.equal(ooo?.sha256, sha256(data));
    assert.equal(none?.sha256, sha256(Buffer.alloc(0)));
    assert.equal(none?.bytes, 0);
  });

  it('hash the whole file after random writes into an existing one', async () => {
    const session = fx.open();
    await upload(session, '/rw', Buffer.from('0123456789'));
    const handle = await session.openFile('/rw', READ_WRITE);
    await handle.write(2, Buffer.from('ab'));
    await handle.close();
    assert.equal(await readFile(join(fx.homeDir, 'rw'), 'utf8'), '01ab456789');
    assert.equal(fx.transfers().at(-1)?.sha256, sha256(Buffer.from('01ab456789')));
  });

  it('account downloads', async () => {
    const session = fx.open();
    const data = randomBytes(100_000);
    await upload(session, '/d', data);
    const handle = await session.openFile('/d', READ);
    await handle.read(50_000, 10_000);
    await handle.close();
    const event = fx.transfers().at(-1);
    assert.equal(event?.direction, 'download');
    assert.equal(event?.bytes, 10_000);
    assert.equal(event?.resumedFrom, 50_000);
    assert.equal(event?.completed, true);
    assert.equal(event?.path, '/d');
    assert.equal(event?.username, 'alice');
    assert.equal(event?.remoteAddress, '192.0.2.7');
  });
});

describe('direct uploads', () => {
  it('write straight to the final name', async () => {
    const fx = await makeSessionFixture({ uploadMode: 'direct' });
    try {
      const session = fx.open();
      const handle = await session.openFile('/f', UPLOAD);
      await handle.write(0, Buffer.from('visible early'));
      assert.equal(await readFile(join(fx.homeDir, 'f'), 'utf8'), 'visible early');
      await session.close();
      assert.equal(await readFile(join(fx.homeDir, 'f'), 'utf8'), 'visible early');
      assert.deepEqual(await readdir(fx.homeDir), ['f']);
      assert.equal(fx.transfers()[0]?.completed, false);
    } finally {
      await fx.cleanup();
    }
  });
});
