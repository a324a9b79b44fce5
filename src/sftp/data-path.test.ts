// Bulk data through serveSftp, the core and the local disk: WRITEs arrive byte-exact however the channel cut them, READ replies go out whole.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeSessionFixture, type SessionFixture, upload } from '../core/session-fixture.js';
import { rootLogger } from '../logger.js';
import { serveSftp } from './server.js';
import { FX, FXF, FXP, MAX_READ_LENGTH, MAX_WRITE_LENGTH } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { DATA_HEADER_LENGTH, PacketWriter } from './wire/writer.js';

const logger = rootLogger.child({ logger: 'sftp-test' }, { level: 'silent' });

/** Position-dependent bytes: a lost, doubled or misplaced run of bytes changes the content. */
/** The lengths of the whole packets in one channel write; throws if it ends inside one. */
function packetLengths(write: Buffer): number[] {
  const lengths: number[] = [];
  for (let at = 0; at < write.length; ) {
    const length = 4 + write.readUInt32BE(at);
    assert.ok(at + length <= write.length, 'a reply cut across channel writes');
    lengths.push(length);
    at += length;
  }
  return lengths;
}

function pattern(length: number): Buffer {
  const data = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) data[i] = (i * 31 + Math.floor(i / 251) * 7) & 0xff;
  return data;
}

/** The server end of a channel in memory; records each channel write the server makes. */
class RecordingChannel extends Duplex {
  readonly writes: Buffer[] = [];
  readonly replies: PacketReader[] = [];
  readonly #framer = new PacketFramer(1 << 20);

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writes.push(Buffer.from(chunk));
    this.#framer.push(chunk);
    for (let p = this.#framer.next(); p; p = this.#framer.next()) {
      this.replies.push(new PacketReader(Buffer.from(p)));
    }
    callback();
  }

  async waitForReplies(count: number): Promise<PacketReader[]> {
    while (this.replies.length < count) await sleep(5);
    return this.replies.slice(0, count);
  }
}

describe('sftp data path', () => {
  let fx: SessionFixture;
  let channel: RecordingChannel;
  let served: Promise<void>;

  beforeEach(async () => {
    fx = await makeSessionFixture();
    channel = new RecordingChannel();
    served = serveSftp(channel, fx.open(), { logger });
    channel.push(new PacketWriter(FXP.INIT).uint32(3).finish());
  });
  afterEach(async () => {
    channel.push(null);
    await served;
    await fx.cleanup();
  });

  async function openHandle(path: string, pflags: number): Promise<Buffer> {
    const before = channel.replies.length;
    channel.push(new PacketWriter(FXP.OPEN).uint32(1).string(path).uint32(pflags).uint32(0).finish());
    const reply = (await channel.waitForReplies(before + 1))[before]!;
    assert.equal(reply.uint8(), FXP.HANDLE);
    reply.uint32();
    return Buffer.from(reply.string());
  }

  it('stores pipelined WRITEs cut into awkward channel chunks byte for byte, with their SHA-256', async () => {
    await channel.waitForReplies(1);
    const handle = await openHandle('/up.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
    const content = pattern(4 * MAX_WRITE_LENGTH + 4099);
    const writes: Buffer[] = [];
    for (let offset = 0, id = 100; offset < content.length; offset += MAX_WRITE_LENGTH, id++) {
      const data = content.subarray(offset, offset + MAX_WRITE_LENGTH);
      writes.push(new PacketWriter(FXP.WRITE).uint32(id).string(handle).uint64(offset).string(data).finish());
    }
    const stream = Buffer.concat(writes);
    // One byte at a time through the first WRITE's length, header and handle; then sizes that put cuts
    // inside later headers and handles, around 32 KiB (what ssh2 delivers), and a few tiny ones.
    const sizes = [...new Array<number>(40).fill(1), 13, 32_768, 5, 1, 32_750, 7];
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < stream.length; i++) {
      const size = sizes[i % sizes.length]!;
      chunks.push(Buffer.from(stream.subarray(at, at + size)));
      at += size;
    }
    for (const chunk of chunks) channel.push(chunk);
    const replies = await channel.waitForReplies(2 + writes.length);
    for (const reply of replies.slice(2)) {
      assert.equal(reply.uint8(), FXP.STATUS);
      reply.uint32();
      assert.equal(reply.uint32(), FX.OK);
    }
    channel.push(new PacketWriter(FXP.CLOSE).uint32(2).string(handle).finish());
    const closed = (await channel.waitForReplies(3 + writes.length)).at(-1)!;
    assert.equal(closed.uint8(), FXP.STATUS);
    closed.uint32();
    assert.equal(closed.uint32(), FX.OK);

    assert.ok(
      (await readFile(join(fx.homeDir, 'up.bin'))).equals(content),
      'the file holds exactly the data',
    );
    const [transfer] = fx.transfers();
    assert.equal(transfer?.bytes, content.length);
    assert.equal(transfer?.sha256, createHash('sha256').update(content).digest('hex'));
  });

  it('answers each READ whole in one channel write, short at the end of the file, then EOF', async () => {
    const content = pattern(MAX_READ_LENGTH + 38_880);
    await upload(fx.open(), '/down.bin', content);
    await channel.waitForReplies(1);
    const handle = await openHandle('/down.bin', FXF.READ);
    const writesBefore = channel.writes.length;
    const reads: Array<[id: number, offset: number, length: number]> = [
      [10, 0, MAX_READ_LENGTH],
      [11, MAX_READ_LENGTH, MAX_READ_LENGTH],
      [12, 5, 100],
      [13, content.length, MAX_READ_LENGTH],
      [14, content.length - 1, 1],
    ];
    for (const [id, offset, length] of reads) {
      channel.push(
        new PacketWriter(FXP.READ).uint32(id).string(handle).uint64(offset).uint32(length).finish(),
      );
    }
    const replies = (await channel.waitForReplies(2 + reads.length)).slice(2);
    const expected = [
      content.subarray(0, MAX_READ_LENGTH),
      content.subarray(MAX_READ_LENGTH),
      content.subarray(5, 105),
      undefined,
      content.subarray(content.length - 1),
    ];
    const sent = channel.writes.slice(writesBefore);
    // The two large DATA replies a write each, header and data together; the small replies after them, of one
    // turn, gathered into one write (reply-gather.ts), each reply whole.
    assert.equal(sent.length, 3, 'two large replies, then the small ones together');
    const small = packetLengths(sent[2]!);
    assert.equal(small.length, 3, 'the three small replies, each whole');
    assert.equal(small[0], DATA_HEADER_LENGTH + 100);
    assert.equal(small[2], DATA_HEADER_LENGTH + 1);
    for (const [i, reply] of replies.entries()) {
      const type = reply.uint8();
      assert.equal(reply.uint32(), reads[i]![0], 'replies in request order');
      const data = expected[i];
      if (data === undefined) {
        assert.equal(type, FXP.STATUS);
        assert.equal(reply.uint32(), FX.EOF);
        continue;
      }
      assert.equal(type, FXP.DATA);
      assert.ok(reply.string().equals(data), `reply ${i} carries the file's bytes`);
      assert.equal(reply.remaining, 0);
      if (data.length > 1024)
        assert.equal(sent[i]!.length, DATA_HEADER_LENGTH + data.length, 'header and data in one write');
    }
    channel.push(new PacketWriter(FXP.CLOSE).uint32(3).string(handle).finish());
    await channel.waitForReplies(3 + reads.length);
    const download = fx.transfers().find((t) => t.direction === 'download');
    assert.equal(download?.bytes, content.length + 100 + 1, 'bytes read, not headroom');
  });
});
