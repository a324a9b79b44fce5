// SFTP codec: framing at every split point, reply round trips, and malformed input always ending as ProtocolError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../errors.js';
import { EXTENSIONS_BY_NAME } from './extensions.js';
import { REQUESTS_BY_TYPE } from './requests.js';
import { ATTR, DEFAULT_MAX_PACKET_LENGTH, FX, FXF, FXP } from './wire/constants.js';
import { type FramedPacket, PacketFramer } from './wire/framer.js';
import { type Attrs, PacketReader } from './wire/reader.js';
import {
  DATA_HEADER_LENGTH,
  encodeAttrs,
  encodeDataInPlace,
  encodeExtendedReply,
  encodeHandle,
  encodeName,
  encodeStatus,
  encodeVersion,
  PacketWriter,
} from './wire/writer.js';

/** Strips the uint32 length, as the framer does, and checks it matches. */
function body(packet: Buffer): Buffer {
  assert.equal(packet.readUInt32BE(0), packet.length - 4);
  return packet.subarray(4);
}

function frame(type: number, fill: (w: PacketWriter) => void): Buffer {
  const writer = new PacketWriter(type);
  fill(writer);
  return writer.finish();
}

const FULL_ATTRS: Attrs = {
  size: 2 ** 40 + 7,
  uid: 1000,
  gid: 1001,
  permissions: 0o100644,
  atime: 1_700_000_000,
  mtime: 1_700_000_123,
  extended: [['vendor@example.com', Buffer.from('value')]],
};

function assertProtocolError(fn: () => unknown, label: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError, label);
}

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

describe('PacketReader', () => {
  it('reads integers, strings and 64-bit values', () => {
    const packet = body(
      frame(FXP.STATUS, (w) =>
        w
          .uint32(0xdeadbeef)
          .uint64(2 ** 52 + 3)
          .string('héllo'),
      ),
    );
    const r = new PacketReader(packet);
    assert.equal(r.uint8(), FXP.STATUS);
    assert.equal(r.uint32(), 0xdeadbeef);
    assert.equal(r.uint64(), 2 ** 52 + 3);
    assert.equal(r.utf8(), 'héllo');
    assert.equal(r.remaining, 0);
  });

  it('saturates uint64 values beyond 2^53', () => {
    const r = new PacketReader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.equal(r.uint64(), Number.MAX_SAFE_INTEGER);
  });

  it('throws ProtocolError on every overrun', () => {
    assertProtocolError(() => new PacketReader(Buffer.alloc(0)).uint8(), 'uint8');
    assertProtocolError(() => new PacketReader(Buffer.alloc(3)).uint32(), 'truncated uint32');
    assertProtocolError(() => new PacketReader(Buffer.alloc(7)).uint64(), 'truncated uint64');
    assertProtocolError(
      () => new PacketReader(Buffer.from([0, 0, 0, 5, 1, 2])).string(),
      'string beyond packet',
    );
    assertProtocolError(
      () => new PacketReader(Buffer.from([0xff, 0xff, 0xff, 0xff])).string(),
      'string length 2^32-1',
    );
  });

  it('round-trips attrs with every field, and with none', () => {
    for (const attrs of [FULL_ATTRS, {}, { size: 0 }, { permissions: 0o40755 }, { atime: 1, mtime: 2 }]) {
      const r = new PacketReader(body(frame(FXP.ATTRS, (w) => w.attrs(attrs))));
      r.uint8();
      assert.deepEqual(r.attrs(), attrs);
      assert.equal(r.remaining, 0);
    }
  });

  it('throws ProtocolError when attrs flags announce fields that are missing', () => {
    for (const flag of [ATTR.SIZE, ATTR.UIDGID, ATTR.PERMISSIONS, ATTR.ACMODTIME, ATTR.EXTENDED]) {
      const packet = Buffer.alloc(4);
      packet.writeUInt32BE(flag >>> 0, 0);
      assertProtocolError(() => new PacketReader(packet).attrs(), `flag ${flag.toString(16)}`);
    }
  });

  it('throws ProtocolError when the extended attribute count overruns the packet', () => {
    const w = new PacketWriter(0).uint32(ATTR.EXTENDED).uint32(0xffffffff).string('a').string('b');
    const r = new PacketReader(body(w.finish()));
    r.uint8();
    assertProtocolError(() => r.attrs(), 'count 2^32-1');
    const w2 = new PacketWriter(0)
      .uint32(ATTR.EXTENDED)
      .uint32(2)
      .string('a')
      .string('b')
      .uint32(0)
      .uint32(9);
    const r2 = new PacketReader(body(w2.finish()));
    r2.uint8();
    assertProtocolError(() => r2.attrs(), 'second pair truncated');
  });

  it('never throws anything but ProtocolError on random input', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      const bytes = Buffer.alloc(random() % 40);
      for (let j = 0; j < bytes.length; j++) bytes[j] = random() & 0xff;
      // Bias the flags word towards real flags so deeper paths get exercised.
      if (bytes.length >= 4)
        bytes.writeUInt32BE(((random() & 0x0f) | (random() & 1 ? ATTR.EXTENDED : 0)) >>> 0, 0);
      try {
        new PacketReader(bytes).attrs();
      } catch (err) {
        assert.ok(err instanceof ProtocolError, `unexpected ${String(err)}`);
      }
    }
  });
});

describe('reply writers', () => {
  it('encodes VERSION with the extension pairs', () => {
    const r = new PacketReader(
      body(
        encodeVersion([
          ['a@x', '1'],
          ['b', '2'],
        ]),
      ),
    );
    assert.equal(r.uint8(), FXP.VERSION);
    assert.equal(r.uint32(), 3);
    assert.deepEqual([r.utf8(), r.utf8(), r.utf8(), r.utf8()], ['a@x', '1', 'b', '2']);
    assert.equal(r.remaining, 0);
  });

  it('encodes STATUS with message and language tag', () => {
    const r = new PacketReader(body(encodeStatus(9, FX.EOF, 'End of file')));
    assert.deepEqual(
      [r.uint8(), r.uint32(), r.uint32(), r.utf8(), r.utf8()],
      [FXP.STATUS, 9, FX.EOF, 'End of file', 'en'],
    );
  });

  it('encodes HANDLE', () => {
    const r = new PacketReader(body(encodeHandle(1, Buffer.from([0, 0, 0, 5]))));
    assert.deepEqual([r.uint8(), r.uint32()], [FXP.HANDLE, 1]);
    assert.deepEqual(r.string(), Buffer.from([0, 0, 0, 5]));
  });

  it('encodes DATA in place, in the headroom a read left before the payload', () => {
    const payload = Buffer.from('payload bytes');
    const framed = Buffer.concat([Buffer.alloc(DATA_HEADER_LENGTH, 0xee), payload]);
    const packet = encodeDataInPlace(77, framed);
    assert.equal(packet.buffer, framed.buffer, 'no copy');
    const r = new PacketReader(body(packet));
    assert.deepEqual([r.uint8(), r.uint32()], [FXP.DATA, 77]);
    assert.deepEqual(r.string(), payload);
    assert.equal(r.remaining, 0);
    const empty = new PacketReader(body(encodeDataInPlace(78, Buffer.alloc(DATA_HEADER_LENGTH))));
    assert.deepEqual([empty.uint8(), empty.uint32(), empty.uint32()], [FXP.DATA, 78, 0]);
    assert.throws(() => encodeDataInPlace(79, Buffer.alloc(DATA_HEADER_LENGTH - 1)), RangeError);
  });

  it('encodes NAME entries with attrs', () => {
    const entries = [
      { filename: 'a', longname: '-rw-r--r--    1 u g 1 Jan  1  1970 a', attrs: FULL_ATTRS },
      { filename: 'ü', longname: 'ü', attrs: {} },
    ];
    const r = new PacketReader(body(encodeName(5, entries)));
    assert.deepEqual([r.uint8(), r.uint32(), r.uint32()], [FXP.NAME, 5, 2]);
    for (const entry of entries) {
      assert.deepEqual({ filename: r.utf8(), longname: r.utf8(), attrs: r.attrs() }, entry);
    }
    assert.equal(r.remaining, 0);
  });

  it('encodes ATTRS and EXTENDED_REPLY', () => {
    const a = new PacketReader(body(encodeAttrs(3, FULL_ATTRS)));
    assert.deepEqual([a.uint8(), a.uint32(), a.attrs()], [FXP.ATTRS, 3, FULL_ATTRS]);
    const e = new PacketReader(body(encodeExtendedReply(4, (w) => w.uint64(262144).string('x'))));
    assert.deepEqual([e.uint8(), e.uint32(), e.uint64(), e.utf8()], [FXP.EXTENDED_REPLY, 4, 262144, 'x']);
  });

  it('grows its buffer for large packets', () => {
    const big = Buffer.alloc(100_000, 7);
    const r = new PacketReader(body(new PacketWriter(FXP.DATA, 8).uint32(1).string(big).finish()));
    r.uint8();
    r.uint32();
    assert.deepEqual(r.string(), big);
  });
});

/** A valid body for every request the tables parse; truncating any of them must be a ProtocolError. */
const handle = Buffer.from([0, 0, 0, 1]);
const REQUEST_BODIES: ReadonlyArray<[string, number, (w: PacketWriter) => void, unknown]> = [
  [
    'open',
    FXP.OPEN,
    (w) =>
      w
        .string('/f')
        .uint32(FXF.WRITE | FXF.CREAT)
        .attrs({ permissions: 0o644 }),
    { path: '/f', pflags: FXF.WRITE | FXF.CREAT, attrs: { permissions: 0o644 } },
  ],
  ['close', FXP.CLOSE, (w) => w.string(handle), { handle: 1 }],
  [
    'read',
    FXP.READ,
    (w) => w.string(handle).uint64(10).uint32(32768),
    { handle: 1, offset: 10, length: 32768 },
  ],
  [
    'write',
    FXP.WRITE,
    (w) => w.string(handle).uint64(5).string('abc'),
    { handle: 1, offset: 5, data: [Buffer.from('abc')], length: 3 },
  ],
  ['lstat', FXP.LSTAT, (w) => w.string('/l'), { path: '/l' }],
  ['fstat', FXP.FSTAT, (w) => w.string(handle), { handle: 1 }],
  ['setstat', FXP.SETSTAT, (w) => w.string('/s').attrs({ size: 3 }), { path: '/s', attrs: { size: 3 } }],
  [
    'fsetstat',
    FXP.FSETSTAT,
    (w) => w.string(handle).attrs({ atime: 1, mtime: 2 }),
    { handle: 1, attrs: { atime: 1, mtime: 2 } },
  ],
  ['opendir', FXP.OPENDIR, (w) => w.string('/d'), { path: '/d' }],
  ['readdir', FXP.READDIR, (w) => w.string(handle), { handle: 1 }],
  ['remove', FXP.REMOVE, (w) => w.string('/r'), { path: '/r' }],
  ['mkdir', FXP.MKDIR, (w) => w.string('/m').attrs({}), { path: '/m', attrs: {} }],
  ['rmdir', FXP.RMDIR, (w) => w.string('/m'), { path: '/m' }],
  ['realpath', FXP.REALPATH, (w) => w.string('.'), { path: '.' }],
  ['stat', FXP.STAT, (w) => w.string('/s'), { path: '/s' }],
  ['rename', FXP.RENAME, (w) => w.string('/a').string('/b'), { from: '/a', to: '/b' }],
  ['readlink', FXP.READLINK, (w) => w.string('/l'), { path: '/l' }],
  ['symlink', FXP.SYMLINK, (w) => w.string('target').string('/link'), { from: 'target', to: '/link' }],
];

const EXTENSION_BODIES: ReadonlyArray<[string, (w: PacketWriter) => void, unknown]> = [
  ['posix-rename@openssh.com', (w) => w.string('/a').string('/b'), { from: '/a', to: '/b' }],
  ['statvfs@openssh.com', (w) => w.string('/'), { path: '/' }],
  ['fstatvfs@openssh.com', (w) => w.string(handle), { handle: 1 }],
  ['hardlink@openssh.com', (w) => w.string('/a').string('/b'), { from: '/a', to: '/b' }],
  ['fsync@openssh.com', (w) => w.string(handle), { handle: 1 }],
  [
    'lsetstat@openssh.com',
    (w) => w.string('/l').attrs({ permissions: 0o600 }),
    { path: '/l', attrs: { permissions: 0o600 } },
  ],
  ['limits@openssh.com', () => {}, {}],
  ['expand-path@openssh.com', (w) => w.string('~/x'), { path: '~/x' }],
  ['home-directory', (w) => w.string(''), { username: '' }],
  [
    'copy-data',
    (w) =>
      w
        .string(handle)
        .uint64(1)
        .uint64(2)
        .string(Buffer.from([0, 0, 0, 2]))
        .uint64(3),
    { source: 1, sourceOffset: 1, length: 2, target: 2, targetOffset: 3 },
  ],
  [
    'check-file-handle',
    (w) => w.string(handle).string('sha256,md5').uint64(0).uint64(0).uint32(0),
    { subject: 1, algorithms: 'sha256,md5', offset: 0, length: 0, blockSize: 0 },
  ],
  [
    'check-file-name',
    (w) => w.string('/f').string('md5').uint64(4).uint64(5).uint32(256),
    { subject: '/f', algorithms: 'md5', offset: 4, length: 5, blockSize: 256 },
  ],
];

describe('request parsing', () => {
  it('has a body here for every request and extension in the tables', () => {
    assert.deepEqual(
      new Set(REQUEST_BODIES.map(([name]) => name)),
      new Set([...REQUESTS_BY_TYPE.values()].map((row) => row.name)),
    );
    assert.deepEqual(new Set(EXTENSION_BODIES.map(([name]) => name)), new Set(EXTENSIONS_BY_NAME.keys()));
  });

  for (const [name, type, fill, expected] of REQUEST_BODIES) {
    it(`parses ${name} and rejects every truncation of it`, () => {
      const row = REQUESTS_BY_TYPE.get(type)!;
      const bytes = new PacketWriter(0);
      fill(bytes);
      const payload = body(bytes.finish()).subarray(1);
      assert.deepEqual(row.parse(new PacketReader(payload)), expected);
      for (let cut = 0; cut < payload.length; cut++) {
        assertProtocolError(
          () => row.parse(new PacketReader(payload.subarray(0, cut))),
          `${name} cut at ${cut}`,
        );
      }
    });
  }

  for (const [name, fill, expected] of EXTENSION_BODIES) {
    it(`parses extension ${name} and rejects every truncation of it`, () => {
      const spec = EXTENSIONS_BY_NAME.get(name)!;
      const bytes = new PacketWriter(0);
      fill(bytes);
      const payload = body(bytes.finish()).subarray(1);
      assert.deepEqual(spec.parse(new PacketReader(payload)), expected);
      for (let cut = 0; cut < payload.length; cut++) {
        assertProtocolError(
          () => spec.parse(new PacketReader(payload.subarray(0, cut))),
          `${name} cut at ${cut}`,
        );
      }
    });
  }

  it('treats a handle that is not 4 bytes as one that names nothing', () => {
    const row = REQUESTS_BY_TYPE.get(FXP.CLOSE)!;
    const payload = body(new PacketWriter(0).string(Buffer.from([1, 2, 3])).finish()).subarray(1);
    assert.deepEqual(row.parse(new PacketReader(payload)), { handle: 0 });
  });
});
