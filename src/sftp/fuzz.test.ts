// Fuzzes the SFTP codec and the whole serveSftp loop over a real core session with random and mutated packets.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createFileSessionFactory } from '../core/file-session.js';
import type { FileSession } from '../core/types.js';
import { ProtocolError } from '../errors.js';
import { EventBus } from '../events/bus.js';
import { rootLogger } from '../logger.js';
import { FUZZ_SECONDS, RunTracker, runProperty } from '../util/fuzz-fixture.js';
import { localHomeFs } from '../vfs/local/local-fs.js';
import { EXTENSIONS_BY_NAME } from './extensions.js';
import { REQUESTS_BY_TYPE } from './requests.js';
import { serveSftp } from './server.js';
import { DEFAULT_MAX_PACKET_LENGTH, FXF, FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { type Attrs, PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

const logger = rootLogger.child({ logger: 'sftp-fuzz' }, { level: process.env.FERRY_LOG_LEVEL ?? 'silent' });

/** Errors that reach the process instead of the session: each one fails the property that was running. */
class EscapedErrors {
  readonly errors: unknown[] = [];
  readonly #onError = (err: unknown): void => {
    this.errors.push(err);
  };

  start(): void {
    process.on('uncaughtException', this.#onError);
    process.on('unhandledRejection', this.#onError);
  }

  stop(): void {
    process.off('uncaughtException', this.#onError);
    process.off('unhandledRejection', this.#onError);
  }

  assertNone(): void {
    const [first] = this.errors;
    if (first !== undefined) {
      throw new Error(`error escaped the session: ${first instanceof Error ? first.stack : String(first)}`);
    }
  }
}

// ---- codec properties ----------------------------------------------------------------------------

/** The only thing a malformed packet may cause while parsing is a ProtocolError. */
function parsesOrProtocolError(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    if (!(err instanceof ProtocolError)) {
      throw new Error(`parsing threw ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
}

const attrsArb: fc.Arbitrary<Attrs> = fc.record(
  {
    size: fc.maxSafeNat(),
    uid: fc.nat({ max: 0xffffffff }),
    gid: fc.nat({ max: 0xffffffff }),
    permissions: fc.nat({ max: 0xffffffff }),
    atime: fc.nat({ max: 0xffffffff }),
    mtime: fc.nat({ max: 0xffffffff }),
    extended: fc.array(
      fc.tuple(
        fc.string({ maxLength: 12 }),
        fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
  { requiredKeys: [] },
);

/** What the wire keeps of an Attrs: uid/gid and atime/mtime travel only in pairs. */
function wireAttrs(attrs: Attrs): Attrs {
  const out: Attrs = {};
  if (attrs.size !== undefined) out.size = attrs.size;
  if (attrs.uid !== undefined && attrs.gid !== undefined) {
    out.uid = attrs.uid;
    out.gid = attrs.gid;
  }
  if (attrs.permissions !== undefined) out.permissions = attrs.permissions;
  if (attrs.atime !== undefined && attrs.mtime !== undefined) {
    out.atime = attrs.atime;
    out.mtime = attrs.mtime;
  }
  if (attrs.extended !== undefined && attrs.extended.length > 0) out.extended = attrs.extended;
  return out;
}

const READER_OPS = ['uint8', 'uint32', 'uint64', 'string', 'utf8', 'attrs', 'bytes'] as const;

describe('sftp codec fuzz', () => {
  it('PacketReader reads random bytes or throws ProtocolError, never anything else', async (t) => {
    await runProperty(
      t,
      fc.property(
        fc.uint8Array({ maxLength: 96 }),
        fc.array(fc.tuple(fc.constantFrom(...READER_OPS), fc.nat({ max: 64 })), { maxLength: 12 }),
        (bytes, ops) => {
          const reader = new PacketReader(Buffer.from(bytes));
          parsesOrProtocolError(() => {
            for (const [op, n] of ops) {
              const before = reader.remaining;
              if (op === 'bytes') reader.bytes(n);
              else reader[op]();
              assert.ok(reader.remaining <= before && reader.remaining >= 0);
            }
          });
        },
      ),
      10_000,
      1_500,
    );
  });

  it('ATTRS survive a write and a read unchanged', async (t) => {
    await runProperty(
      t,
      fc.property(attrsArb, (attrs) => {
        const packet = new PacketWriter(FXP.ATTRS).uint32(7).attrs(attrs).finish();
        const reader = new PacketReader(packet.subarray(4));
        assert.equal(reader.uint8(), FXP.ATTRS);
        assert.equal(reader.uint32(), 7);
        assert.deepEqual(reader.attrs(), wireAttrs(attrs));
        assert.equal(reader.remaining, 0);
      }),
      10_000,
      1_500,
    );
  });

  it('the framer cuts any chunking of a packet stream into the same packets, and refuses bad lengths', async (t) => {
    const max = 1024;
    await runProperty(
      t,
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 12 }),
        fc.array(fc.nat({ max: 300 }), { maxLength: 30 }),
        fc.uint8Array({ maxLength: 12 }),
        (bodies, cuts, junk) => {
          const stream = Buffer.concat([
            ...bodies.map((body) => {
              const header = Buffer.alloc(4);
              header.writeUInt32BE(body.length);
              return Buffer.concat([header, body]);
            }),
            Buffer.from(junk),
          ]);
          const framer = new PacketFramer(max);
          const got: Buffer[] = [];
          let refused = false;
          let offset = 0;
          for (const cut of [...cuts, stream.length]) {
            framer.push(stream.subarray(offset, Math.min(stream.length, offset + cut)));
            offset = Math.min(stream.length, offset + cut);
            try {
              for (let p = framer.next(); p; p = framer.next()) got.push(Buffer.from(p));
            } catch (err) {
              assert.ok(err instanceof ProtocolError, String(err));
              refused = true;
              break;
            }
          }
          assert.deepEqual(
            got.slice(0, bodies.length).map((b) => b.toString('hex')),
            bodies.slice(0, got.length).map((b) => Buffer.from(b).toString('hex')),
          );
          // Only the trailing junk can be refused, and only for a length of 0 or above the limit.
          if (refused) assert.ok(got.length >= bodies.length);
          for (const packet of got) assert.ok(packet.length >= 1 && packet.length <= max);
        },
      ),
      10_000,
      1_500,
    );
  });

  it('every request row and extension parses random bodies or throws ProtocolError', async (t) => {
    const specs = [...REQUESTS_BY_TYPE.values(), ...EXTENSIONS_BY_NAME.values()];
    await runProperty(
      t,
      fc.property(fc.constantFrom(...specs), fc.uint8Array({ maxLength: 80 }), (spec, body) => {
        parsesOrProtocolError(() => spec.parse(new PacketReader(Buffer.from(body))));
      }),
      10_000,
      1_500,
    );
  });
});

// ---- the session loop --------------------------------------------------------------------------------

/** Unguessable text in every file outside the home: no reply may ever carry it. */
const MARKER = `ferry-sentinel-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`;

async function resetHome(base: string, home: string): Promise<void> {
  await rm(home, { recursive: true, force: true });
  await mkdir(join(home, 'dir', 'sub'), { recursive: true, mode: 0o700 });
  await writeFile(join(home, 'inside.txt'), 'inside');
  await writeFile(join(home, 'dir', 'sub', 'file.txt'), Buffer.alloc(70_000, 7));
  const links: Array<[target: string, name: string]> = [
    ['../../sentinel', 'out'],
    [join(base, 'sentinel', 'secret.txt'), 'abs-file'],
    ['../../sentinel/created-by-fuzz', 'dangling'],
    ['loop', 'loop'],
    ['dir/sub', 'inside-link'],
    ['../..', join('dir', 'up')],
  ];
  for (const [target, name] of links) await symlink(target, join(home, name));
}

interface FuzzHome {
  readonly base: string;
  readonly homeDir: string;
  /** A fresh core session for the home; nothing keeps it (or its events) once it is closed. */
  open(): FileSession;
  cleanup(): Promise<void>;
}

/** base/sentinel (outside, marked) and base/homes/alice (the home), with a session factory that retains nothing. */
async function makeFuzzHome(): Promise<FuzzHome> {
  const base = await mkdtemp(join(tmpdir(), 'ferry-fuzz-'));
  const homeDir = join(base, 'homes', 'alice');
  await mkdir(join(base, 'sentinel', `leak-${MARKER}`), { recursive: true });
  await writeFile(join(base, 'sentinel', 'secret.txt'), MARKER);
  await resetHome(base, homeDir);
  const factory = createFileSessionFactory({ events: new EventBus(), logger, fs: localHomeFs });
  let n = 0;
  return {
    base,
    homeDir,
    open: () =>
      factory({
        sessionId: `fuzz-${++n}`,
        username: 'alice',
        homeDir,
        permissions: { '/': ['*'] },
        remoteAddress: '192.0.2.9',
        protocol: 'sftp',
      }),
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

/** Everything under `base` except the home: kind, mode, size, times and content. */
async function snapshotOutside(base: string, home: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if (path === home) continue;
      const st = await lstat(path);
      // The home's parent changes whenever the home is recreated; new siblings still show up as entries.
      const times = path === posix.dirname(home) ? '' : `${st.mtimeMs} ${st.ctimeMs} ${st.nlink}`;
      let content = '';
      if (st.isFile())
        content = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      if (st.isSymbolicLink()) content = await readlink(path);
      lines.push(`${path} ${st.mode} ${st.size} ${times} ${content}`);
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk(base);
  return lines.join('\n');
}

/** The server end of an SSH channel in memory; everything the server writes is framed as the client would. */
class MemoryChannel extends Duplex {
  readonly replies: Buffer[] = [];
  readonly #framer = new PacketFramer(DEFAULT_MAX_PACKET_LENGTH + 1024);

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#framer.push(chunk);
    // A malformed reply throws here and fails the run: replies must always frame.
    for (let p = this.#framer.next(); p; p = this.#framer.next()) this.replies.push(Buffer.from(p));
    callback();
  }
}

/** Names a normal client would use: they open handles, so later requests reach deeper. */
const INSIDE_PATHS = [
  '/',
  'inside.txt',
  '/dir/sub/file.txt',
  'dir',
  'dir/sub',
  'new.txt',
  '/dir/new.bin',
  'new-dir',
];

const PATHS = [
  '',
  '.',
  '/',
  '..',
  '../..',
  '/../../sentinel/secret.txt',
  'out',
  'out/secret.txt',
  'out/new',
  'abs-file',
  'dangling',
  'loop',
  'loop/x',
  'inside-link',
  'inside-link/file.txt',
  'dir',
  'dir/up',
  'dir/up/../sentinel',
  'dir/up/sentinel/secret.txt',
  'dir/sub/file.txt',
  'inside.txt',
  'new.txt',
  'new-dir',
  '.ferry-part.new.txt',
  '~',
  '~/out',
  '~root',
  'a\0b',
  'x'.repeat(300),
  `${'d/'.repeat(2100)}x`,
];

const pathArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...INSIDE_PATHS) },
  { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.constantFrom(...PATHS), { minLength: 1, maxLength: 4 })
      .map((parts) => parts.join('/')),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);

/** Handles are 4-byte ids counting from 1, so small numbers often name a handle that is really open. */
const handleArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant(Buffer.from([0, 0, 0, 1])) },
  { weight: 3, arbitrary: fc.constant(Buffer.from([0, 0, 0, 2])) },
  { weight: 2, arbitrary: fc.integer({ min: 3, max: 6 }).map((id) => Buffer.from([0, 0, 0, id])) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)) },
);
/**
 * Offsets and sizes that make files: bounded on purpose. A client can write one byte at offset 2^50 (a sparse
 * file) and CLOSE, and the server then hashes it whole; that is a quota/limits matter (see docs/SECURITY.md),
 * not a parser bug, and would only make the fuzzer slow.
 */
const fileOffsetArb = fc.oneof(fc.nat({ max: 80_000 }), fc.constantFrom(0, 32_768, 65_536, 1 << 20));
/** Offsets and lengths that only read: anything goes. */
const anyOffsetArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0, 0, 1, 4096, 32_768, 65_536) },
  { weight: 2, arbitrary: fc.nat({ max: 80_000 }) },
  { weight: 1, arbitrary: fc.maxSafeNat() },
);
const u32Arb = fc.oneof(fc.nat({ max: 70_000 }), fc.nat({ max: 0xffffffff }));
const smallAttrsArb = attrsArb.map((a) => ({
  ...a,
  ...(a.size !== undefined ? { size: a.size % 100_000 } : {}),
}));
type Field =
  | { kind: 'path'; value: string }
  | { kind: 'handle'; value: Buffer }
  | { kind: 'u32'; value: number }
  | { kind: 'u64'; value: number }
  | { kind: 'string'; value: string | Buffer }
  | { kind: 'attrs'; value: Attrs };

const f = {
  path: pathArb.map((value): Field => ({ kind: 'path', value })),
  openable: fc
    .constantFrom('inside.txt', '/dir/sub/file.txt', 'new.txt')
    .map((value): Field => ({ kind: 'path', value })),
  handle: handleArb.map((value): Field => ({ kind: 'handle', value })),
  u32: u32Arb.map((value): Field => ({ kind: 'u32', value })),
  pflags: fc
    .oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(FXF.READ, FXF.WRITE | FXF.CREAT | FXF.TRUNC, FXF.READ | FXF.WRITE),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(FXF.WRITE | FXF.CREAT | FXF.APPEND, FXF.WRITE | FXF.CREAT | FXF.EXCL),
      },
      { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) },
    )
    .map((value): Field => ({ kind: 'u32', value })),
  fileOffset: fileOffsetArb.map((value): Field => ({ kind: 'u64', value })),
  anyOffset: anyOffsetArb.map((value): Field => ({ kind: 'u64', value })),
  attrs: smallAttrsArb.map((value): Field => ({ kind: 'attrs', value })),
  data: fc.uint8Array({ maxLength: 3000 }).map((a): Field => ({ kind: 'string', value: Buffer.from(a) })),
  text: fc
    .oneof(fc.constantFrom('sha256', 'md5,sha1', 'nope', ''), fc.string({ maxLength: 10 }))
    .map((value): Field => ({ kind: 'string', value })),
  blockSize: fc.constantFrom(0, 1, 255, 256, 4096).map((value): Field => ({ kind: 'u32', value })),
};

/** Well-formed bodies for each request type and extension; the fields themselves are hostile. */
const BODIES: Record<string, fc.Arbitrary<Field[]>> = {
  [FXP.OPEN]: fc.tuple(fc.oneof(f.openable, f.path), f.pflags, f.attrs),
  [FXP.CLOSE]: fc.tuple(f.handle),
  [FXP.READ]: fc.tuple(f.handle, f.anyOffset, f.u32),
  [FXP.WRITE]: fc.tuple(f.handle, f.fileOffset, f.data),
  [FXP.LSTAT]: fc.tuple(f.path),
  [FXP.FSTAT]: fc.tuple(f.handle),
  [FXP.SETSTAT]: fc.tuple(f.path, f.attrs),
  [FXP.FSETSTAT]: fc.tuple(f.handle, f.attrs),
  [FXP.OPENDIR]: fc.tuple(f.path),
  [FXP.READDIR]: fc.tuple(f.handle),
  [FXP.REMOVE]: fc.tuple(f.path),
  [FXP.MKDIR]: fc.tuple(f.path, f.attrs),
  [FXP.RMDIR]: fc.tuple(f.path),
  [FXP.REALPATH]: fc.tuple(f.path),
  [FXP.STAT]: fc.tuple(f.path),
  [FXP.RENAME]: fc.tuple(f.path, f.path),
  [FXP.READLINK]: fc.tuple(f.path),
  [FXP.SYMLINK]: fc.tuple(f.path, f.path),
  'posix-rename@openssh.com': fc.tuple(f.path, f.path),
  'statvfs@openssh.com': fc.tuple(f.path),
  'fstatvfs@openssh.com': fc.tuple(f.handle),
  'hardlink@openssh.com': fc.tuple(f.path, f.path),
  'fsync@openssh.com': fc.tuple(f.handle),
  'lsetstat@openssh.com': fc.tuple(f.path, f.attrs),
  'limits@openssh.com': fc.constant([]),
  'expand-path@openssh.com': fc.tuple(f.path),
  'home-directory': fc.tuple(f.text),
  'copy-data': fc.tuple(f.handle, f.anyOffset, f.fileOffset, f.handle, f.fileOffset),
  'check-file-handle': fc.tuple(f.handle, f.text, f.anyOffset, f.anyOffset, f.blockSize),
  'check-file-name': fc.tuple(f.path, f.text, f.anyOffset, f.anyOffset, f.blockSize),
  'no-such-extension@example.com': fc.tuple(f.path),
  [FXP.VERSION]: fc.tuple(f.u32),
  [FXP.STATUS]: fc.tuple(f.u32, f.text),
};

function encodeRequest(type: string, id: number, fields: readonly Field[]): Buffer {
  const numeric = Number(type);
  const writer = new PacketWriter(Number.isInteger(numeric) ? numeric : FXP.EXTENDED).uint32(id);
  if (!Number.isInteger(numeric)) writer.string(type);
  for (const field of fields) {
    switch (field.kind) {
      case 'path':
      case 'string':
        writer.string(field.value);
        break;
      case 'handle':
        writer.string(field.value);
        break;
      case 'u32':
        writer.uint32(field.value);
        break;
      case 'u64':
        writer.uint64(field.value);
        break;
      case 'attrs':
        writer.attrs(field.value);
        break;
    }
  }
  return writer.finish();
}

/** The handle-making and handle-using requests come up more often, so handles get opened and used. */
const HOT_TYPES = [
  FXP.OPEN,
  FXP.OPEN,
  FXP.READ,
  FXP.READ,
  FXP.WRITE,
  FXP.CLOSE,
  FXP.OPENDIR,
  FXP.READDIR,
].map(String);

const wellFormedArb = fc
  .tuple(
    fc.oneof(fc.constantFrom(...Object.keys(BODIES)), fc.constantFrom(...HOT_TYPES)),
    fc.nat({ max: 0xffffffff }),
  )
  .chain(([type, id]) => BODIES[type]!.map((fields) => encodeRequest(type, id, fields)));

/** Flips, truncations, insertions and forged lengths applied to a well-formed packet (length prefix included). */
const mutationArb = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), fixLength: fc.boolean() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    fixLength: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('length' as const), value: fc.nat({ max: 0xffffffff }) }),
  fc.record({ kind: fc.constant('type' as const), value: fc.nat({ max: 255 }) }),
);

type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

function mutate(packet: Buffer, mutation: Mutation): Buffer {
  const out = Buffer.from(packet);
  const fixLength = (b: Buffer): Buffer => {
    if (b.length >= 4) b.writeUInt32BE(b.length - 4, 0);
    return b;
  };
  switch (mutation.kind) {
    case 'flip': {
      const at = mutation.at % out.length;
      out[at] = out[at]! ^ (1 << mutation.bit);
      return out;
    }
    case 'truncate': {
      const cut = out.subarray(0, mutation.at % out.length);
      return mutation.fixLength ? fixLength(Buffer.from(cut)) : cut;
    }
    case 'insert': {
      const at = mutation.at % (out.length + 1);
      const grown = Buffer.concat([out.subarray(0, at), Buffer.from(mutation.bytes), out.subarray(at)]);
      return mutation.fixLength ? fixLength(grown) : grown;
    }
    case 'length':
      out.writeUInt32BE(mutation.value, 0);
      return out;
    case 'type':
      if (out.length > 4) out[4] = mutation.value;
      return out;
  }
}

/**
 * Keeps the fuzzer away from making huge sparse files (see fileOffsetArb): a mutation may move a WRITE or
 * a truncate far out; such packets are dropped. Anything that does not parse is kept: that is the point.
 */
function makesHugeFile(packet: Buffer): boolean {
  const LIMIT = 1 << 24;
  try {
    if (packet.length < 5 || packet.readUInt32BE(0) !== packet.length - 4) return false;
    const reader = new PacketReader(packet.subarray(4));
    const type = reader.uint8();
    reader.uint32();
    const spec = type === FXP.EXTENDED ? EXTENSIONS_BY_NAME.get(reader.utf8()) : REQUESTS_BY_TYPE.get(type);
    if (!spec) return false;
    const args = spec.parse(reader) as Record<string, unknown>;
    const attrs = args.attrs as Attrs | undefined;
    if (attrs?.size !== undefined && attrs.size > LIMIT) return true;
    if (spec.name === 'write' && (args.offset as number) > LIMIT) return true;
    if (spec.name === 'copy-data' && (args.targetOffset as number) > LIMIT) return true;
    return false;
  } catch {
    return false;
  }
}

/** Packets that are usually fatal to the session: mutated, random, or cut short. */
const corruptArb = fc
  .oneof(
    { weight: 6, arbitrary: fc.tuple(wellFormedArb, mutationArb).map(([p, m]) => mutate(p, m)) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((body) => {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(body.length);
        return Buffer.concat([header, Buffer.from(body)]);
      }),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)) },
  )
  .filter((packet) => !makesHugeFile(packet));

const INIT = new PacketWriter(FXP.INIT).uint32(3).finish();

/** A packet of a script; `answered` when the server owes it exactly one reply (INIT and well-formed requests). */
interface ScriptPacket {
  readonly bytes: Buffer;
  readonly answered: boolean;
}

const wellFormedPacketArb = wellFormedArb
  .filter((packet) => !makesHugeFile(packet))
  .map((bytes): ScriptPacket => ({ bytes, answered: true }));

const sessionScriptArb = fc.record({
  /** Usually INIT first; sometimes none, or a second INIT. */
  start: fc.oneof(
    { weight: 8, arbitrary: fc.constant<ScriptPacket[]>([{ bytes: INIT, answered: true }]) },
    { weight: 1, arbitrary: fc.constant<ScriptPacket[]>([]) },
    {
      weight: 1,
      arbitrary: fc.constant<ScriptPacket[]>([
        { bytes: INIT, answered: true },
        { bytes: INIT, answered: false },
      ]),
    },
  ),
  /** Mostly well-formed (so the session lives long enough to open handles), with a few corrupt packets among them. */
  packets: fc
    .tuple(
      fc.array(wellFormedPacketArb, { maxLength: 40, size: 'max' }),
      fc.oneof(
        { weight: 2, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(fc.tuple(fc.nat(), corruptArb), { minLength: 1, maxLength: 3 }) },
      ),
    )
    .map(([packets, corrupt]) => {
      const out = [...packets];
      // Counted from the end (small numbers are likelier): the requests before a fatal packet still get served.
      for (const [at, bytes] of corrupt) {
        out.splice(out.length - (at % (out.length + 1)), 0, { bytes, answered: false });
      }
      return out;
    }),
  /**
   * 0: everything pipelined at once, as fast as the channel takes it. k > 0: wait for the replies after every
   * k packets, as a real client does before it uses a handle (otherwise READs race their OPEN and see no handle).
   */
  waitEvery: fc.constantFrom(0, 1, 2, 4),
  /** Where the byte stream is cut into channel chunks (pipelined scripts). */
  cuts: fc.array(fc.integer({ min: 1, max: 4096 }), { maxLength: 20 }),
  /** How the client leaves: ends the channel, or the channel dies under the session. */
  ending: fc.constantFrom('end' as const, 'end' as const, 'end' as const, 'destroy' as const),
});

type SessionScript = typeof sessionScriptArb extends fc.Arbitrary<infer S> ? S : never;

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Serves one fuzzed session; resolves with the replies once serveSftp has resolved. */
async function playSession(fx: FuzzHome, script: SessionScript): Promise<Buffer[]> {
  const channel = new MemoryChannel();
  let over = false;
  const served = serveSftp(channel, fx.open(), { logger }).then(() => {
    over = true;
  });
  const packets = [...script.start, ...script.packets];
  if (script.waitEvery === 0) {
    const stream = Buffer.concat(packets.map((p) => p.bytes));
    let offset = 0;
    for (const cut of [...script.cuts, stream.length]) {
      if (offset >= stream.length) break;
      channel.push(stream.subarray(offset, offset + cut));
      offset += cut;
      // Let requests run between chunks, as they would between network reads.
      await nextTick();
    }
  } else {
    let owed = 0;
    for (const [i, packet] of packets.entries()) {
      if (over) break;
      channel.push(packet.bytes);
      if (packet.answered) owed++;
      if ((i + 1) % script.waitEvery !== 0) continue;
      const deadline = Date.now() + 200;
      while (!over && channel.replies.length < owed && Date.now() < deadline) await nextTick();
    }
  }
  if (script.ending === 'end') channel.push(null);
  else channel.destroy();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 20_000);
  });
  const outcome = await Promise.race([served.then(() => 'served' as const), timeout]);
  clearTimeout(timer);
  assert.equal(outcome, 'served', 'serveSftp did not resolve');
  return channel.replies;
}

const REPLY_TYPES = new Set<number>([
  FXP.VERSION,
  FXP.STATUS,
  FXP.HANDLE,
  FXP.DATA,
  FXP.NAME,
  FXP.ATTRS,
  FXP.EXTENDED_REPLY,
]);

describe('sftp session fuzz', () => {
  it('random and mutated packets never escape the session, the home, or the reply format', async (t) => {
    const fx = await makeFuzzHome();
    const runs = new RunTracker();
    const escaped = new EscapedErrors();
    const seen = new Map<string, number>();
    escaped.start();
    try {
      const before = await snapshotOutside(fx.base, fx.homeDir);
      await runProperty(
        t,
        fc.asyncProperty(sessionScriptArb, (script) =>
          runs.track(
            (async () => {
              await resetHome(fx.base, fx.homeDir);
              const replies = await playSession(fx, script);
              escaped.assertNone();
              for (const reply of replies) {
                assert.ok(REPLY_TYPES.has(reply[0]!), `reply of type ${reply[0]}`);
                const kind =
                  reply[0] === FXP.STATUS && reply.length >= 9
                    ? `status ${reply.readUInt32BE(5)}`
                    : `type ${reply[0]}`;
                seen.set(kind, (seen.get(kind) ?? 0) + 1);
                assert.ok(
                  !reply.toString('latin1').includes(MARKER),
                  'a reply carried data from outside the home',
                );
              }
              assert.equal(
                await snapshotOutside(fx.base, fx.homeDir),
                before,
                'something outside the home changed',
              );
            })(),
          ),
        ),
        1_000,
        9_000,
      );
    } finally {
      await runs.settled();
      escaped.stop();
      await fx.cleanup();
    }
    // How deep the packets got: a run that only ever sees status 5 (bad message) fuzzes nothing.
    t.diagnostic(`replies: ${[...seen].map(([kind, n]) => `${kind}=${n}`).join(' ')}`);
    escaped.assertNone();
  });

  it('memory stays bounded over many fuzzed sessions', async (t) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) {
      // Heap figures without a forced GC are mostly garbage timing; `npm run fuzz` runs node with --expose-gc.
      t.skip('needs node --expose-gc (npm run fuzz)');
      return;
    }
    const fx = await makeFuzzHome();
    try {
      const sessions = FUZZ_SECONDS > 0 ? 2_000 : 200;
      const scripts = fc.sample(sessionScriptArb, { numRuns: sessions, seed: 42 });
      const play = async (from: number, to: number): Promise<void> => {
        for (const script of scripts.slice(from, to)) {
          await resetHome(fx.base, fx.homeDir);
          await playSession(fx, script);
        }
      };
      // Warm up (JIT, module caches, logger) before measuring.
      await play(0, sessions / 10);
      gc();
      const baseline = process.memoryUsage().heapUsed;
      await play(sessions / 10, sessions);
      gc();
      const growth = process.memoryUsage().heapUsed - baseline;
      t.diagnostic(`heap growth after ${sessions} sessions: ${(growth / 1024 / 1024).toFixed(2)} MiB`);
      assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${growth} bytes`);
    } finally {
      await fx.cleanup();
    }
  });
});
