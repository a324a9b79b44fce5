// CopyingPacketFramer: the same packets as PacketFramer at any cut, nothing kept of the input once push() returns,
// a large WRITE's data in a lent buffer, and bad lengths thrown after the packets before them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { FXF, FXP } from './constants.js';
import { CopyingPacketFramer } from './copying-framer.js';
import type { FramedPacket } from './framer.js';
import { PacketReader } from './reader.js';
import { assertProtocolError, body, frame } from './wire-fixture.js';

const MIN_BULK = 64;

/** A framer whose lent buffers are recorded, each larger than asked (as the pool's size classes are). */
function framer(max = 4096) {
  const lent: Buffer[] = [];
  const f = new CopyingPacketFramer(max, {
    minBytes: MIN_BULK,
    lend: (length) => {
      const buffer = Buffer.alloc(length + 100);
      lent.push(buffer);
      return buffer;
    },
  });
  return { f, lent };
}

const whole = (p: FramedPacket) => Buffer.concat([p.head, ...p.tail]);

function drain(f: CopyingPacketFramer, into: FramedPacket[]): void {
  for (let p = f.nextPacket(); p; p = f.nextPacket()) into.push(p);
}

describe('CopyingPacketFramer', () => {
  const write = (handle: Buffer, data: Buffer) =>
    frame(FXP.WRITE, (w) => w.uint32(8).string(handle).uint64(5).string(data));
  const packets = [
    frame(FXP.INIT, (w) => w.uint32(3)),
    frame(FXP.OPEN, (w) => w.uint32(7).string('/a/file.txt').uint32(FXF.READ).attrs({})),
    write(Buffer.alloc(4, 1), randomBytes(300)),
    write(Buffer.alloc(4, 2), randomBytes(MIN_BULK - 1)),
    frame(FXP.CLOSE, (w) => w.uint32(9).string(Buffer.alloc(4, 1))),
    write(Buffer.alloc(0), randomBytes(MIN_BULK)),
  ];
  const stream = Buffer.concat(packets);

  it('yields the packets whole at every cut, copied: the input is overwritten after each push', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { f } = framer();
      const got: FramedPacket[] = [];
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
        const input = Buffer.from(part);
        f.push(input);
        input.fill(0xee);
        drain(f, got);
      }
      assert.deepEqual(got.map(whole), packets.map(body), `cut at ${cut}`);
      assert.equal(f.bufferedBytes, 0);
    }
  });

  it('yields the packets whole when every byte arrives alone', () => {
    const { f } = framer();
    const got: FramedPacket[] = [];
    for (let i = 0; i < stream.length; i++) {
      const input = Buffer.from(stream.subarray(i, i + 1));
      f.push(input);
      input[0] = 0xee;
      drain(f, got);
    }
    assert.deepEqual(got.map(whole), packets.map(body));
  });

  it("puts a large WRITE's data, and only it, in a lent buffer; the reader finds it there whole", () => {
    const { f, lent } = framer();
    f.push(Buffer.from(stream));
    const got: FramedPacket[] = [];
    drain(f, got);
    // The 300-byte WRITE and the one of exactly MIN_BULK: two loans; MIN_BULK - 1 is copied with its packet.
    assert.equal(lent.length, 2);
    for (const [index, loan] of [
      [2, lent[0]!],
      [5, lent[1]!],
    ] as const) {
      const packet = got[index]!;
      assert.equal(packet.tail.length, 1);
      assert.equal(packet.tail[0]!.buffer, loan.buffer);
      const reader = new PacketReader(packet);
      reader.uint8();
      reader.uint32();
      reader.string();
      reader.uint64();
      const data = reader.stringChunks();
      assert.equal(data.length, 1);
      assert.equal(data[0]!.buffer, loan.buffer, 'the data is the lent buffer, not a copy');
    }
    assert.equal(got[3]!.tail.length, 0);
  });

  it('a WRITE whose handle length runs past the packet is one buffer, and the reader then refuses it', () => {
    const { f, lent } = framer();
    const bad = Buffer.from(write(Buffer.alloc(4, 1), randomBytes(200)));
    bad.writeUInt32BE(0xfffffff0, 9);
    f.push(bad);
    const packet = f.nextPacket()!;
    assert.equal(lent.length, 0);
    assert.equal(packet.tail.length, 0);
    const reader = new PacketReader(packet);
    reader.uint8();
    reader.uint32();
    assertProtocolError(() => reader.string(), 'truncated');
  });

  it('throws a bad length once the packets before it were taken, and takes nothing after it', () => {
    const { f } = framer(1024);
    f.push(Buffer.concat([packets[0]!, Buffer.from([0, 0, 4, 1]), packets[1]!]));
    assert.deepEqual(whole(f.nextPacket()!), body(packets[0]!));
    assertProtocolError(() => f.nextPacket(), 'length 1025');
    assertProtocolError(() => f.nextPacket(), 'length 1025');
    const zero = framer().f;
    zero.push(Buffer.from([0, 0, 0, 0, 1]));
    assertProtocolError(() => zero.nextPacket(), 'length 0');
  });
});
