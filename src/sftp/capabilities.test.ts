// Storage that can do less than the local disk, seen by an SFTP client: what it lacks is OP_UNSUPPORTED, never a half-written file.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSessionFixture, type SessionFixture, upload } from '../core/session-fixture.js';
import { rootLogger } from '../logger.js';
import { LimitedFs } from '../vfs/limited-fs-fixture.js';
import { localHomeFs } from '../vfs/local/local-fs.js';
import { serveSftp } from './server.js';
import { FX, FXF, FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

const logger = rootLogger.child({ logger: 'sftp-test' }, { level: 'silent' });

/** A client on the far end of an in-memory channel: sends packets, collects replies by request id. */
class Channel extends Duplex {
  readonly #framer = new PacketFramer(1 << 20);
  readonly #replies = new Map<number, PacketReader>();
  #nextId = 10;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#framer.push(chunk);
    for (let p = this.#framer.next(); p; p = this.#framer.next()) {
      const reply = new PacketReader(Buffer.from(p));
      const type = reply.uint8();
      this.#replies.set(type === FXP.VERSION ? 0 : reply.uint32(), reply);
    }
    callback();
  }

  /** Sends a request without waiting; returns its id. */
  send(type: number, body: (w: PacketWriter) => void): number {
    const id = this.#nextId++;
    const writer = new PacketWriter(type).uint32(id);
    body(writer);
    this.push(writer.finish());
    return id;
  }

  async reply(id: number): Promise<PacketReader> {
    for (;;) {
      const reply = this.#replies.get(id);
      if (reply) return reply;
      await sleep(2);
    }
  }

  async status(id: number): Promise<number> {
    return (await this.reply(id)).uint32();
  }

  async openHandle(path: string, pflags: number): Promise<Buffer> {
    const reply = await this.reply(this.send(FXP.OPEN, (w) => w.string(path).uint32(pflags).uint32(0)));
    return Buffer.from(reply.string());
  }

  writeAt(handle: Buffer, offset: number, data: Buffer): number {
    return this.send(FXP.WRITE, (w) => w.string(handle).uint64(offset).string(data));
  }

  closeHandle(handle: Buffer): number {
    return this.send(FXP.CLOSE, (w) => w.string(handle));
  }
}

describe('sftp on storage without random writes, hard links or symlinks', () => {
  let fx: SessionFixture;
  let channel: Channel;
  let served: Promise<void>;

  beforeEach(async () => {
    fx = await makeSessionFixture({ fs: (identity) => new LimitedFs(localHomeFs(identity)) });
    channel = new Channel();
    served = serveSftp(channel, fx.open(), { logger });
    channel.push(new PacketWriter(FXP.INIT).uint32(3).finish());
    await channel.reply(0);
  });
  afterEach(async () => {
    channel.push(null);
    await served;
    await fx.cleanup();
  });

  it('an upload written front to back arrives whole', async () => {
    const handle = await channel.openHandle('/in.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    const writes = [0, 1, 2].map((i) => channel.writeAt(handle, i * 4, Buffer.from(`abc${i}`)));
    for (const id of writes) assert.equal(await channel.status(id), FX.OK);
    assert.equal(await channel.status(channel.closeHandle(handle)), FX.OK);
    assert.equal(await readFile(join(fx.homeDir, 'in.bin'), 'utf8'), 'abc0abc1abc2');
  });

  it('an out-of-order WRITE is OP_UNSUPPORTED and the upload leaves no file', async () => {
    const handle = await channel.openHandle('/hole.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    assert.equal(await channel.status(channel.writeAt(handle, 0, Buffer.from('first '))), FX.OK);
    assert.equal(await channel.status(channel.writeAt(handle, 100, Buffer.from('later'))), FX.OP_UNSUPPORTED);
    // The upload is over: the next write, even in order, and the close fail the same way.
    assert.equal(await channel.status(channel.writeAt(handle, 6, Buffer.from('next'))), FX.OP_UNSUPPORTED);
    assert.equal(await channel.status(channel.closeHandle(handle)), FX.OP_UNSUPPORTED);
    assert.deepEqual(await readdir(fx.homeDir), [], 'neither the file nor its partial is left');
    const [transfer] = fx.transfers();
    assert.equal(transfer?.completed, false);
    assert.equal(transfer?.error, 'ERR_UNSUPPORTED');
  });

  it('a rewrite of an existing file in place is OP_UNSUPPORTED and leaves the file as it was', async () => {
    await upload(fx.open(), '/keep.txt', Buffer.from('the original'));
    const handle = await channel.openHandle('/keep.txt', FXF.READ | FXF.WRITE);
    assert.equal(await channel.status(channel.writeAt(handle, 0, Buffer.from('THE'))), FX.OP_UNSUPPORTED);
    assert.equal(await channel.status(channel.closeHandle(handle)), FX.OP_UNSUPPORTED);
    assert.equal(await readFile(join(fx.homeDir, 'keep.txt'), 'utf8'), 'the original');
  });

  it('an interrupted upload resumes at the end of its partial', async () => {
    const first = await channel.openHandle('/big.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    assert.equal(await channel.status(channel.writeAt(first, 0, Buffer.from('first half, '))), FX.OK);
    // The connection drops: the session ends without CLOSE, the partial stays.
    channel.push(null);
    await served;
    channel = new Channel();
    served = serveSftp(channel, fx.open(), { logger });
    channel.push(new PacketWriter(FXP.INIT).uint32(3).finish());
    await channel.reply(0);
    const resumed = await channel.openHandle('/big.bin', FXF.WRITE | FXF.CREAT | FXF.APPEND);
    assert.equal(await channel.status(channel.writeAt(resumed, 12, Buffer.from('second half'))), FX.OK);
    assert.equal(await channel.status(channel.closeHandle(resumed)), FX.OK);
    assert.equal(await readFile(join(fx.homeDir, 'big.bin'), 'utf8'), 'first half, second half');
  });

  it('rename without overwrite never replaces a target, and moves to a free name', async () => {
    await upload(fx.open(), '/a.txt', Buffer.from('A'));
    await upload(fx.open(), '/b.txt', Buffer.from('B'));
    const refused = channel.send(FXP.RENAME, (w) => w.string('/a.txt').string('/b.txt'));
    assert.equal(await channel.status(refused), FX.FAILURE);
    assert.equal(await readFile(join(fx.homeDir, 'b.txt'), 'utf8'), 'B');
    assert.equal(await readFile(join(fx.homeDir, 'a.txt'), 'utf8'), 'A');
    const moved = channel.send(FXP.RENAME, (w) => w.string('/a.txt').string('/c.txt'));
    assert.equal(await channel.status(moved), FX.OK);
    assert.deepEqual((await readdir(fx.homeDir)).sort(), ['b.txt', 'c.txt']);
    assert.equal(await readFile(join(fx.homeDir, 'c.txt'), 'utf8'), 'A');
    // Directories too, and posix-rename still replaces.
    await channel.status(channel.send(FXP.MKDIR, (w) => w.string('/d').uint32(0)));
    assert.equal(await channel.status(channel.send(FXP.RENAME, (w) => w.string('/d').string('/e'))), FX.OK);
    const replace = channel.send(FXP.EXTENDED, (w) =>
      w.string('posix-rename@openssh.com').string('/c.txt').string('/b.txt'),
    );
    assert.equal(await channel.status(replace), FX.OK);
    assert.deepEqual((await readdir(fx.homeDir)).sort(), ['b.txt', 'e']);
    assert.equal(await readFile(join(fx.homeDir, 'b.txt'), 'utf8'), 'A');
  });

  it('of two racing renames to one free name exactly one wins', async () => {
    const session = fx.open();
    await upload(session, '/x', Buffer.from('X'));
    await upload(session, '/y', Buffer.from('Y'));
    const results = await Promise.allSettled([
      session.rename('/x', '/z', { overwrite: false }),
      session.rename('/y', '/z', { overwrite: false }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const winner = results[0]?.status === 'fulfilled' ? 'X' : 'Y';
    assert.equal(await readFile(join(fx.homeDir, 'z'), 'utf8'), winner);
    assert.equal((await readdir(fx.homeDir)).length, 2, 'the loser keeps its name');
  });

  it('symlink and hardlink are OP_UNSUPPORTED and create nothing', async () => {
    await upload(fx.open(), '/f', Buffer.from('F'));
    const symlink = channel.send(FXP.SYMLINK, (w) => w.string('/f').string('/link'));
    assert.equal(await channel.status(symlink), FX.OP_UNSUPPORTED);
    const hardlink = channel.send(FXP.EXTENDED, (w) =>
      w.string('hardlink@openssh.com').string('/f').string('/hard'),
    );
    assert.equal(await channel.status(hardlink), FX.OP_UNSUPPORTED);
    assert.deepEqual(await readdir(fx.homeDir), ['f']);
  });
});
