// WRITE requests over the framer: their data stays as slices of the chunks it arrived in, at every split point.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REQUESTS_BY_TYPE } from './requests.js';
import { DEFAULT_MAX_PACKET_LENGTH, FXF, FXP } from './wire/constants.js';
import { type FramedPacket, PacketFramer } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { assertProtocolError, frame } from './wire/wire-fixture.js';

describe('PacketFramer: WRITE data stays as slices of the chunks it arrived in', () => {
  const wireHandle = Buffer.from([0, 0, 0, 7]);
  /** Position-dependent bytes, so a misplaced, lost or doubled slice changes the content. */
  const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >>> 8) * 7) & 0xff));
  const bigWrite = frame(FXP.WRITE, (w) => w.uint32(9).string(wireHandle).uint64(123_456).string(data));
  const longOpen = frame(FXP.OPEN, (w) =>
    w
      .uint32(10)
      .string(`/${'d'.repeat(1000)}`)
      .uint32(FXF.READ)
      .attrs({}),
  );
  const smallWrite = frame(FXP.WRITE, (w) => w.uint32(11).string(wireHandle).uint64(5).string('tail'));
  const stream = Buffer.concat([bigWrite, longOpen, smallWrite]);

  /** Cuts `stream` at `cuts`, each chunk in memory of its own (as ssh2 delivers them). */
  function chop(cuts: readonly number[]): Buffer[] {
    const bounds = [0, ...cuts.filter((c) => c > 0 && c < stream.length), stream.length];
    const chunks: Buffer[] = [];
    for (let i = 1; i < bounds.length; i++) {
      if (bounds[i]! <= bounds[i - 1]!) continue;
      const chunk = Buffer.alloc(bounds[i]! - bounds[i - 1]!);
      stream.copy(chunk, 0, bounds[i - 1]!, bounds[i]!);
      chunks.push(chunk);
    }
    return chunks;
  }

  function every(step: number, from = step): number[] {
    const cuts: number[] = [];
    for (let at = from; at < stream.length; at += step) cuts.push(at);
    return cuts;
  }

  interface ParsedWrite {
    handle: number;
    offset: number;
    data: readonly Buffer[];
    length: number;
  }

  /** Frames the chunks and parses the three packets the way the server does. */
  function receive(chunks: readonly Buffer[]): { writes: ParsedWrite[]; openPath: string } {
    const framer = new PacketFramer(DEFAULT_MAX_PACKET_LENGTH + 64 * 1024);
    const packets: FramedPacket[] = [];
    for (const chunk of chunks) {
      framer.push(chunk);
      for (let p = framer.nextPacket(); p; p = framer.nextPacket()) packets.push(p);
    }
    assert.equal(framer.bufferedBytes, 0);
    assert.deepEqual(
      packets.map((p) => p.length),
      [bigWrite, longOpen, smallWrite].map((p) => p.length - 4),
    );
    const writes: ParsedWrite[] = [];
    let openPath = '';
    for (const packet of packets) {
      const r = new PacketReader(packet);
      const type = r.uint8();
      r.uint32();
      const args = REQUESTS_BY_TYPE.get(type)!.parse(r);
      if (type === FXP.WRITE) writes.push(args as ParsedWrite);
      else openPath = (args as { path: string }).path;
    }
    return { writes, openPath };
  }

  /** Data bytes that do not lie in a received chunk, i.e. were copied on the way. */
  function copiedBytes(write: ParsedWrite, chunks: readonly Buffer[]): number {
    const memory = new Set(chunks.map((c) => c.buffer));
    return write.data.filter((slice) => !memory.has(slice.buffer)).reduce((n, s) => n + s.length, 0);
  }

  function check(label: string, chunks: readonly Buffer[]): ParsedWrite {
    const { writes, openPath } = receive(chunks);
    const [big, small] = writes;
    assert.ok(big && small, label);
    assert.deepEqual([big.handle, big.offset, big.length], [7, 123_456, data.length], label);
    assert.ok(Buffer.concat(big.data).equals(data), `${label}: WRITE data intact and in order`);
    assert.deepEqual(
      [small.handle, small.offset, Buffer.concat(small.data).toString()],
      [7, 5, 'tail'],
      label,
    );
    assert.equal(openPath, `/${'d'.repeat(1000)}`, `${label}: a long OPEN read past its head`);
    return big;
  }

  it('keeps a WRITE in 32 KiB chunks uncopied wherever the first cut falls, even inside the header', () => {
    // The WRITE header is bytes 4..29 (handle string at 9..17): cut everywhere around it.
    for (let first = 1; first <= 40; first++) {
      const chunks = chop(every(32 * 1024, first));
      const big = check(`first cut at ${first}`, chunks);
      assert.ok(big.data.length > 1, 'the data is a list of slices');
      assert.ok(copiedBytes(big, chunks) <= 256, `cut at ${first}: only a straddled head is copied`);
    }
  });

  it('reassembles a WRITE whose header and handle arrive one byte per chunk', () => {
    const byteCuts = Array.from({ length: 40 }, (_, i) => i + 1);
    const chunks = chop([...byteCuts, ...every(32 * 1024, 1000), 299_999, 300_001, 300_002]);
    const big = check('bytewise header', chunks);
    assert.ok(copiedBytes(big, chunks) <= 256);
  });

  it('copies a packet together when it arrives in too many pieces (tiny channel packets)', () => {
    const chunks = chop(every(1000));
    const big = check('1000-byte chunks', chunks);
    assert.equal(big.data.length, 1, 'one buffer, not hundreds of iovecs');
    assert.ok(check('97-byte chunks', chop(every(97))));
  });

  it('cuts any random chunking into the same packets and data', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const cuts: number[] = [];
      for (let at = random(64); at < stream.length; at += 1 + random(round % 2 ? 40_000 : 70)) cuts.push(at);
      check(`round ${round}`, chop(cuts));
    }
  });

  it('slices WRITE data inside a single chunk without copying it', () => {
    const chunks = chop([]);
    const big = check('one chunk', chunks);
    assert.deepEqual([big.data.length, copiedBytes(big, chunks)], [1, 0]);
  });

  it('refuses a WRITE whose data runs past its packet, whatever the chunking', () => {
    const lying = frame(FXP.WRITE, (w) =>
      w.uint32(1).string(wireHandle).uint64(0).uint32(5000).raw(data.subarray(0, 4000)),
    );
    for (const step of [1, 7, 200, 1000, 100_000]) {
      const framer = new PacketFramer(1 << 20);
      for (let at = 0; at < lying.length; at += step) framer.push(Buffer.from(lying.subarray(at, at + step)));
      const r = new PacketReader(framer.nextPacket()!);
      r.uint8();
      r.uint32();
      assertProtocolError(() => REQUESTS_BY_TYPE.get(FXP.WRITE)!.parse(r), `step ${step}`);
    }
  });
});
