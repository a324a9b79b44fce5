// PacketFramer: framing at every split point and bad lengths refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FXF, FXP } from './constants.js';
import { PacketFramer } from './framer.js';
import { assertProtocolError, body, frame } from './wire-fixture.js';

describe('PacketFramer', () => {
  const packets = [
    frame(FXP.INIT, (w) => w.uint32(3)),
    frame(FXP.OPEN, (w) => w.uint32(7).string('/a/file.txt').uint32(FXF.READ).attrs({})),
    frame(FXP.WRITE, (w) => w.uint32(8).string(Buffer.alloc(4, 1)).uint64(0).string(Buffer.alloc(300, 0xab))),
  ];
  const stream = Buffer.concat(packets);

  it('yields whole packets when the stream is split at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const framer = new PacketFramer(1024);
      const got: Buffer[] = [];
      for (const chunk of [stream.subarray(0, cut), stream.subarray(cut)]) {
        framer.push(chunk);
        for (let p = framer.next(); p; p = framer.next()) got.push(Buffer.from(p));
      }
      assert.deepEqual(got, packets.map(body), `cut at ${cut}`);
      assert.equal(framer.bufferedBytes, 0);
    }
  });

  it('yields whole packets when every byte arrives alone', () => {
    const framer = new PacketFramer(1024);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      framer.push(stream.subarray(i, i + 1));
      for (let p = framer.next(); p; p = framer.next()) got.push(Buffer.from(p));
    }
    assert.deepEqual(got, packets.map(body));
  });

  it('slices a packet that sits inside one chunk instead of copying it', () => {
    const framer = new PacketFramer(1024);
    framer.push(stream);
    const first = framer.next()!;
    assert.equal(first.buffer, stream.buffer);
  });

  it('rejects a packet of length 0', () => {
    const framer = new PacketFramer(1024);
    framer.push(Buffer.from([0, 0, 0, 0, 1]));
    assertProtocolError(() => framer.next(), 'length 0');
  });

  it('rejects a packet longer than the limit before its body arrives', () => {
    const framer = new PacketFramer(1024);
    framer.push(Buffer.from([0, 0, 4, 1]));
    assertProtocolError(() => framer.next(), 'length 1025');
    const huge = new PacketFramer(262144);
    huge.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assertProtocolError(() => huge.next(), 'length 2^32-1');
  });

  it('waits for more bytes on a partial length or body', () => {
    const framer = new PacketFramer(1024);
    framer.push(Buffer.from([0, 0]));
    assert.equal(framer.next(), null);
    framer.push(Buffer.from([0, 2, 1]));
    assert.equal(framer.next(), null);
    framer.push(Buffer.from([9]));
    assert.deepEqual(framer.next(), Buffer.from([1, 9]));
  });
});
