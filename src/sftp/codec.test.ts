// SFTP codec: the packet reader, reply round trips, and request parsing where malformed input always ends as ProtocolError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../errors.js';
import { EXTENSIONS_BY_NAME } from './extensions.js';
import { REQUESTS_BY_TYPE } from './requests.js';
import { ATTR, FX, FXF, FXP } from './wire/constants.js';
import { PacketReader } from './wire/reader.js';
import { assertProtocolError, body, FULL_ATTRS, frame } from './wire/wire-fixture.js';
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
