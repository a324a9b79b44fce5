// The client's copying SFTP framer: whole packets however the data is cut, nothing kept of the memory it was given,
// large replies in buffers reused only once given back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ProtocolError } from '../errors.js';
import { ReplyAssembler, ReplyBuffers } from './reply-assembler.js';

/** The wire form of `bodies`: each behind its uint32 length. */
function wire(bodies: readonly Buffer[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((body) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.length);
      return [length, body];
    }),
  );
}

/**
 * Pushes `stream` cut into pieces of the sizes `cut` gives, each through one reused buffer that is overwritten
 * after every push (as a socket read into again); returns copies of the bodies as they came out, and those bodies.
 */
function feed(
  assembler: (onPacket: (body: Buffer) => void) => ReplyAssembler,
  stream: Buffer,
  cut: () => number,
) {
  const seen: Buffer[] = [];
  const bodies: Buffer[] = [];
  const a = assembler((body) => {
    bodies.push(body);
    seen.push(Buffer.from(body));
  });
  const reused = Buffer.alloc(stream.length);
  for (let at = 0; at < stream.length; ) {
    const n = Math.min(cut(), stream.length - at);
    stream.copy(reused, 0, at, at + n);
    a.push(reused.subarray(0, n));
    reused.fill(0xee);
    at += n;
  }
  return { seen, bodies };
}

describe('ReplyAssembler', () => {
  const bodies = [randomBytes(9), randomBytes(3000), randomBytes(4097), randomBytes(200_000), randomBytes(1)];
  const stream = wire(bodies);

  for (const [name, cut] of [
    ['byte by byte', () => 1],
    ['in 7-byte pieces', () => 7],
    ['in random pieces up to 64 KiB', () => 1 + Math.floor(Math.random() * 65536)],
    ['all at once', () => stream.length],
  ] as const) {
    it(`returns every packet whole, ${name}, untouched by what is later written over its input`, () => {
      const buffers = new ReplyBuffers(256 * 1024);
      const { seen, bodies: out } = feed((on) => new ReplyAssembler(1 << 20, buffers, on), stream, cut);
      assert.equal(seen.length, bodies.length);
      for (let i = 0; i < bodies.length; i++) {
        assert.ok(seen[i]!.equals(bodies[i]!), `packet ${i} as it arrived`);
        assert.ok(out[i]!.equals(bodies[i]!), `packet ${i} after its input was overwritten`);
      }
    });
  }

  it('refuses a length of 0 or over the limit', () => {
    const buffers = new ReplyBuffers(1024);
    const a = new ReplyAssembler(1000, buffers, () => assert.fail('no packet'));
    assert.throws(() => a.push(Buffer.from([0, 0, 0, 0])), ProtocolError);
    const b = new ReplyAssembler(1000, buffers, () => assert.fail('no packet'));
    assert.throws(() => b.push(Buffer.from([0, 0, 3, 233])), /1001 bytes exceeds the limit of 1000/);
  });
});

describe('ReplyBuffers', () => {
  it('reuses a large reply’s buffer once it is given back, not before', () => {
    const buffers = new ReplyBuffers(64 * 1024);
    const first = buffers.take(60_000);
    const second = buffers.take(60_000);
    assert.notEqual(first.buffer, second.buffer, 'a buffer still held is not handed out again');
    buffers.release([first.subarray(100, 200)]);
    const third = buffers.take(5000);
    assert.equal(third.buffer, first.buffer, 'given back: it takes the next reply');
    assert.equal(third.length, 5000);
    assert.equal(buffers.allocated, 2);
  });

  it('ignores a second release, foreign memory, and does not pool what is larger than its size', () => {
    const buffers = new ReplyBuffers(64 * 1024);
    const a = buffers.take(1000);
    buffers.release([a]);
    buffers.release([a]);
    const b = buffers.take(1000);
    const c = buffers.take(1000);
    assert.notEqual(b.buffer, c.buffer, 'released twice, handed out once');
    buffers.release([Buffer.alloc(10)]);
    const big = buffers.take(100_000);
    assert.equal(big.length, 100_000);
    buffers.release([big]);
    assert.notEqual(buffers.take(100_000).buffer, big.buffer);
    assert.equal(buffers.allocated, 2);
  });

  it('downloads through the assembler allocate a handful of buffers when each reply is given back', () => {
    const buffers = new ReplyBuffers(64 * 1024 + 9);
    const replies = Array.from({ length: 200 }, () => randomBytes(64 * 1024));
    const stream = wire(replies);
    let i = 0;
    const a = new ReplyAssembler(1 << 20, buffers, (body) => {
      assert.ok(body.equals(replies[i++]!));
      buffers.release([body]);
    });
    for (let at = 0; at < stream.length; at += 32 * 1024) a.push(stream.subarray(at, at + 32 * 1024));
    assert.equal(i, 200);
    assert.equal(buffers.allocated, 1);
  });
});
