// serveSftp over an in-memory channel and FileSession: dispatch, ordering, backpressure, teardown.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { retainedBufferBytes } from '../util/retained-memory-fixture.js';
import { ADVERTISED_EXTENSIONS } from './extensions.js';
import { expectHandle, expectStatus, open, RW_CREATE, start } from './serve-sftp-fixture.js';
import { FX, FXF, FXP } from './wire/constants.js';
import type { PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

describe('serveSftp', () => {
  it('answers INIT with version 3 and every extension it implements', async () => {
    const { client, done } = start();
    client.init();
    await client.request(FXP.REALPATH, (w) => w.string('.'));
    const version = client.version!;
    assert.equal(version.uint32(), 3);
    const advertised: Array<[string, string]> = [];
    while (version.remaining > 0) advertised.push([version.utf8(), version.utf8()]);
    assert.deepEqual(advertised, ADVERTISED_EXTENSIONS);
    assert.deepEqual(
      advertised.map(([name]) => name),
      [
        'posix-rename@openssh.com',
        'statvfs@openssh.com',
        'fstatvfs@openssh.com',
        'hardlink@openssh.com',
        'fsync@openssh.com',
        'lsetstat@openssh.com',
        'limits@openssh.com',
        'expand-path@openssh.com',
        'home-directory',
        'copy-data',
        'check-file-handle',
        'check-file-name',
      ],
    );
    client.end();
    await done;
  });

  it('uploads with pipelined out-of-order writes and downloads the same bytes', async () => {
    const { client, session, done } = start();
    client.init();
    const handle = await open(client, '/up.bin', RW_CREATE);
    const content = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) & 0xff));
    const chunk = 30_000;
    const writes: Array<Promise<PacketReader>> = [];
    for (const offset of [90_000, 0, 60_000, 30_000]) {
      const data = content.subarray(offset, offset + chunk);
      writes.push(client.request(FXP.WRITE, (w) => w.string(handle).uint64(offset).string(data)));
    }
    for (const reply of await Promise.all(writes)) expectStatus(reply, FX.OK);
    expectStatus(await client.request(FXP.CLOSE, (w) => w.string(handle)), FX.OK);
    assert.deepEqual(session.files.get('/up.bin'), content);

    const reader = await open(client, '/up.bin', FXF.READ);
    const reads = [0, 40_000, 80_000, 120_000].map((offset) =>
      client.request(FXP.READ, (w) => w.string(reader).uint64(offset).uint32(40_000)),
    );
    const parts: Buffer[] = [];
    for (const reply of await Promise.all(reads)) {
      const type = reply.uint8();
      reply.uint32();
      if (type === FXP.DATA) parts.push(Buffer.from(reply.string()));
      else assert.equal(reply.uint32(), FX.EOF);
    }
    assert.deepEqual(Buffer.concat(parts), content);
    client.end();
    await done;
  });

  it('makes CLOSE wait for the writes pending on its handle', async () => {
    const { client, session, done } = start();
    session.writeDelayMs = 5;
    client.init();
    const handle = await open(client, '/slow', RW_CREATE);
    const pending = [0, 10, 20, 30].map((offset) =>
      client.request(FXP.WRITE, (w) => w.string(handle).uint64(offset).string(Buffer.alloc(10, 1))),
    );
    const closed = client.request(FXP.CLOSE, (w) => w.string(handle));
    await Promise.all([...pending, closed]);
    const closeAt = session.calls.indexOf('close /slow');
    assert.ok(closeAt > 0);
    assert.equal(session.calls.slice(0, closeAt).filter((c) => c.startsWith('write-end')).length, 4);
    // The writes themselves did overlap: all four started before the first finished.
    assert.deepEqual(session.calls.slice(0, 4), [
      'write-start 0',
      'write-start 10',
      'write-start 20',
      'write-start 30',
    ]);
    client.end();
    await done;
  });

  it('answers unknown requests and extensions with OP_UNSUPPORTED and keeps serving', async () => {
    const { client, done } = start();
    client.init();
    expectStatus(await client.request(99, (w) => w.string('x')), FX.OP_UNSUPPORTED, 'Operation unsupported');
    expectStatus(await client.extended('nope@example.com', () => {}), FX.OP_UNSUPPORTED);
    const reply = await client.request(FXP.REALPATH, (w) => w.string('a/b'));
    assert.equal(reply.uint8(), FXP.NAME);
    client.end();
    await done;
  });

  it('answers a bad handle with FAILURE and errors with their mapped status', async () => {
    const { client, done } = start();
    client.init();
    expectStatus(
      await client.request(FXP.READ, (w) => w.string('zzzz').uint64(0).uint32(10)),
      FX.FAILURE,
      'Bad handle',
    );
    expectStatus(await client.request(FXP.CLOSE, (w) => w.string('toolonghandle')), FX.FAILURE);
    expectStatus(
      await client.request(FXP.STAT, (w) => w.string('/missing')),
      FX.NO_SUCH_FILE,
      'No such file',
    );
    client.end();
    await done;
  });

  it('splits a large directory into NAME replies of at most 64 KiB and then says EOF', async () => {
    const { client, session, done } = start();
    // ~100 bytes per entry here: 1 500 entries take three replies.
    session.dirs.set('/big', 1500);
    client.init();
    const dir = expectHandle(await client.request(FXP.OPENDIR, (w) => w.string('/big')));
    const counts: number[] = [];
    let firstLongname = '';
    for (;;) {
      const reply = await client.request(FXP.READDIR, (w) => w.string(dir));
      const type = reply.uint8();
      reply.uint32();
      if (type === FXP.STATUS) {
        assert.equal(reply.uint32(), FX.EOF);
        break;
      }
      const count = reply.uint32();
      counts.push(count);
      assert.ok(reply.remaining <= 64 * 1024, `NAME entries of ${reply.remaining} bytes`);
      if (!firstLongname) {
        reply.utf8();
        firstLongname = reply.utf8();
      }
    }
    assert.equal(counts.length, 3);
    assert.equal(
      counts.reduce((a, b) => a + b),
      1500,
    );
    assert.match(firstLongname, /^-rw-r--r-- {4}1 alice {4}staff {11}0 \w{3} [ \d]\d {2}1970 f0$/);
    client.end();
    await done;
  });

  it('passes rename, posix-rename, symlink and link arguments in OpenSSH order', async () => {
    const { client, session, done } = start();
    session.files.set('/exists', Buffer.from('x'));
    client.init();
    expectStatus(await client.request(FXP.RENAME, (w) => w.string('/a').string('/b')), FX.OK);
    expectStatus(
      await client.request(FXP.RENAME, (w) => w.string('/a').string('/exists')),
      FX.FAILURE,
      'Failure',
    );
    expectStatus(
      await client.extended('posix-rename@openssh.com', (w) => w.string('/a').string('/exists')),
      FX.OK,
    );
    expectStatus(await client.request(FXP.SYMLINK, (w) => w.string('target.txt').string('/link')), FX.OK);
    expectStatus(
      await client.extended('hardlink@openssh.com', (w) => w.string('/old').string('/new')),
      FX.OK,
    );
    expectStatus(
      await client.extended('lsetstat@openssh.com', (w) => w.string('/l').attrs({ permissions: 0o100600 })),
      FX.OK,
    );
    assert.deepEqual(session.calls, [
      'rename /a /b false',
      'rename /a /exists true',
      'symlink target.txt /link',
      'hardlink /old /new',
      'setstat /l {"mode":384} false',
    ]);
    client.end();
    await done;
  });

  it('implements limits, statvfs, expand-path, home-directory and copy-data', async () => {
    const { client, session, done } = start();
    session.files.set('/src', Buffer.from('hello'));
    client.init();
    const limits = await client.extended('limits@openssh.com', () => {});
    assert.equal(limits.uint8(), FXP.EXTENDED_REPLY);
    limits.uint32();
    assert.deepEqual(
      [limits.uint64(), limits.uint64(), limits.uint64(), limits.uint64()],
      [262144, 261120, 261120, 256],
    );

    const vfs = await client.extended('statvfs@openssh.com', (w) => w.string('/'));
    assert.equal(vfs.uint8(), FXP.EXTENDED_REPLY);
    vfs.uint32();
    assert.deepEqual(
      Array.from({ length: 11 }, () => vfs.uint64()),
      [4096, 4096, 100, 50, 40, 10, 5, 4, 7, 0, 255],
    );

    for (const [input, expected] of [
      ['~', '/'],
      ['~/docs', '/docs'],
      ['~alice/x', '/x'],
    ]) {
      const name = await client.extended('expand-path@openssh.com', (w) => w.string(input!));
      assert.equal(name.uint8(), FXP.NAME);
      name.uint32();
      assert.equal(name.uint32(), 1);
      assert.equal(name.utf8(), expected);
    }
    expectStatus(
      await client.extended('expand-path@openssh.com', (w) => w.string('~bob/x')),
      FX.NO_SUCH_FILE,
    );
    const home = await client.extended('home-directory', (w) => w.string(''));
    assert.equal(home.uint8(), FXP.NAME);
    home.uint32();
    home.uint32();
    assert.equal(home.utf8(), '/');
    expectStatus(await client.extended('home-directory', (w) => w.string('bob')), FX.FAILURE);

    const source = await open(client, '/src', FXF.READ);
    const target = await open(client, '/dst', FXF.WRITE | FXF.CREAT);
    expectStatus(
      await client.extended('copy-data', (w) =>
        w.string(source).uint64(1).uint64(0).string(target).uint64(2),
      ),
      FX.OK,
    );
    expectStatus(
      await client.extended('copy-data', (w) =>
        w.string(source).uint64(0).uint64(0).string(source).uint64(0),
      ),
      FX.FAILURE,
    );
    assert.ok(session.calls.includes('copy /src@1+0 /dst@2'));
    client.end();
    await done;
  });

  it('hashes a range with check-file-handle and check-file-name, whole or per block', async () => {
    const { client, session, done } = start();
    const content = Buffer.alloc(1000, 'a');
    content.write('different tail', 900);
    session.files.set('/h', content);
    client.init();
    const handle = await open(client, '/h', FXF.READ);

    const whole = await client.extended('check-file-handle', (w) =>
      w.string(handle).string('unknown,sha256,md5').uint64(0).uint64(0).uint32(0),
    );
    assert.equal(whole.uint8(), FXP.EXTENDED_REPLY);
    whole.uint32();
    assert.equal(whole.utf8(), 'check-file');
    assert.equal(whole.utf8(), 'sha256');
    assert.deepEqual(whole.bytes(whole.remaining), createHash('sha256').update(content).digest());

    const blocks = await client.extended('check-file-name', (w) =>
      w.string('/h').string('md5').uint64(100).uint64(800).uint32(256),
    );
    assert.equal(blocks.uint8(), FXP.EXTENDED_REPLY);
    blocks.uint32();
    assert.equal(blocks.utf8(), 'check-file');
    assert.equal(blocks.utf8(), 'md5');
    // 800 bytes from 100 in 256-byte blocks: the last block is the 32-byte tail up to 900.
    const expected = [100, 356, 612, 868].map((start) =>
      createHash('md5')
        .update(content.subarray(start, Math.min(start + 256, 900)))
        .digest(),
    );
    assert.deepEqual(blocks.bytes(blocks.remaining), Buffer.concat(expected));

    expectStatus(
      await client.extended('check-file-handle', (w) =>
        w.string(handle).string('crc32').uint64(0).uint64(0).uint32(0),
      ),
      FX.OP_UNSUPPORTED,
    );
    expectStatus(
      await client.extended('check-file-handle', (w) =>
        w.string(handle).string('md5').uint64(0).uint64(0).uint32(10),
      ),
      FX.BAD_MESSAGE,
    );
    client.end();
    await done;
  });

  it('refuses handles beyond maxOpenHandles and writes on a read-only session', async () => {
    const { client, session, done } = start({ maxOpenHandles: 2, readOnly: true });
    session.files.set('/f', Buffer.from('x'));
    client.init();
    await open(client, '/f', FXF.READ);
    await open(client, '/f', FXF.READ);
    expectStatus(
      await client.request(FXP.OPEN, (w) => w.string('/f').uint32(FXF.READ).attrs({})),
      FX.FAILURE,
      'Too many open handles',
    );
    expectStatus(
      await client.request(FXP.OPEN, (w) => w.string('/f').uint32(FXF.WRITE).attrs({})),
      FX.PERMISSION_DENIED,
    );
    expectStatus(await client.request(FXP.REMOVE, (w) => w.string('/f')), FX.PERMISSION_DENIED);
    client.end();
    await done;
  });

  it('ends only this session on a malformed packet, closing the file session and the channel', async () => {
    const { client, session, done } = start();
    client.init();
    await client.request(FXP.REALPATH, (w) => w.string('.'));
    // OPEN whose filename claims 1000 bytes but the packet ends after 3.
    client.sendRaw(new PacketWriter(FXP.OPEN).uint32(5).uint32(1000).uint8(1).uint8(2).uint8(3).finish());
    await done;
    assert.equal(session.closed, true);
    assert.equal(client.channel.serverEnded, true);
    assert.equal(client.channel.exitStatus, 1);
  });

  it('ends the session when the first packet is not INIT or a length is out of range', async () => {
    for (const bytes of [
      new PacketWriter(FXP.OPEN).uint32(1).finish(),
      Buffer.from([0, 0, 0, 0]),
      Buffer.from([0x7f, 0, 0, 0]),
    ]) {
      const { client, session, done } = start();
      client.sendRaw(bytes);
      await done;
      assert.equal(session.closed, true);
      assert.equal(client.channel.serverEnded, true);
    }
  });

  it('answers what is pending, then ends its side when the client ends', async () => {
    const { client, session, done } = start();
    session.writeDelayMs = 10;
    client.init();
    const handle = await open(client, '/f', RW_CREATE);
    const write = client.request(FXP.WRITE, (w) => w.string(handle).uint64(0).string('data'));
    client.end();
    expectStatus(await write, FX.OK);
    await done;
    assert.equal(client.channel.exitStatus, 0);
    assert.equal(client.channel.serverEnded, true);
    assert.equal(session.closed, true);
  });

  it('resolves and closes the file session when the channel closes abruptly', async () => {
    const { client, session, done } = start();
    client.init();
    await client.request(FXP.REALPATH, (w) => w.string('.'));
    client.channel.destroy();
    await done;
    assert.equal(session.closed, true);
  });

  it('stays within a few MiB when a client pipelines 20 000 READs and does not read replies', async () => {
    const { client, session, done } = start();
    session.readSource = Buffer.alloc(1024 * 1024, 1);
    client.init();
    const handle = await open(client, '/big', FXF.READ);
    client.channel.clientReading = false;
    client.countOnly = true;
    const total = 20_000;
    // Buffers, not RSS: the client half of this test lives in the same process and its 20 000 pending
    // promises grow the heap; what the server must not do is hold reply data for the requests it read. Read
    // after a collection, so replies already sent and dropped are not counted as held.
    const buffersBefore = retainedBufferBytes();
    for (let i = 0; i < total; i++) {
      void client.request(FXP.READ, (w) => w.string(handle).uint64(0).uint32(261_120));
    }
    await sleep(200);
    const heldReplyBytes = client.channel.writableLength;
    assert.ok(session.readsStarted < 64, `reads started while stalled: ${session.readsStarted}`);
    assert.ok(heldReplyBytes <= 8 * 1024 * 1024, `reply bytes held: ${heldReplyBytes}`);
    assert.equal(client.channel.isPaused(), true, 'input is paused');
    const growth = retainedBufferBytes() - buffersBefore;
    assert.ok(growth < 32 * 1024 * 1024, `buffers grew by ${growth}`);

    client.channel.startReading();
    while (client.repliesCounted < total) await sleep(10);
    assert.equal(client.repliesCounted, total);
    assert.equal(session.readsStarted, total);
    client.end();
    await done;
  });
});
