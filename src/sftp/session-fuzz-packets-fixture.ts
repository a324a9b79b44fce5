// The packets of the SFTP session fuzz: paths and handles worth trying, well-formed requests of every type, their
// mutations and corruptions, and whole session scripts.
import fc from 'fast-check';
import { EXTENSIONS_BY_NAME } from './extensions.js';
import { attrsArb } from './fuzz-fixture.js';
import { REQUESTS_BY_TYPE } from './requests.js';
import { FXF, FXP } from './wire/constants.js';
import { type Attrs, PacketReader } from './wire/reader.js';
import { PacketWriter } from './wire/writer.js';

/** Names a normal client would use: they open handles, so later requests reach deeper. */
export const INSIDE_PATHS = [
  '/',
  'inside.txt',
  '/dir/sub/file.txt',
  'dir',
  'dir/sub',
  'new.txt',
  '/dir/new.bin',
  'new-dir',
];

export const PATHS = [
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

export const pathArb = fc.oneof(
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
export const handleArb = fc.oneof(
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
export const fileOffsetArb = fc.oneof(fc.nat({ max: 80_000 }), fc.constantFrom(0, 32_768, 65_536, 1 << 20));
/** Offsets and lengths that only read: anything goes. */
export const anyOffsetArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0, 0, 1, 4096, 32_768, 65_536) },
  { weight: 2, arbitrary: fc.nat({ max: 80_000 }) },
  { weight: 1, arbitrary: fc.maxSafeNat() },
);
export const u32Arb = fc.oneof(fc.nat({ max: 70_000 }), fc.nat({ max: 0xffffffff }));
export const smallAttrsArb = attrsArb.map((a) => ({
  ...a,
  ...(a.size !== undefined ? { size: a.size % 100_000 } : {}),
}));
export type Field =
  | { kind: 'path'; value: string }
  | { kind: 'handle'; value: Buffer }
  | { kind: 'u32'; value: number }
  | { kind: 'u64'; value: number }
  | { kind: 'string'; value: string | Buffer }
  | { kind: 'attrs'; value: Attrs };

export const f = {
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
export const BODIES: Record<string, fc.Arbitrary<Field[]>> = {
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

export function encodeRequest(type: string, id: number, fields: readonly Field[]): Buffer {
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
export const HOT_TYPES = [
  FXP.OPEN,
  FXP.OPEN,
  FXP.READ,
  FXP.READ,
  FXP.WRITE,
  FXP.CLOSE,
  FXP.OPENDIR,
  FXP.READDIR,
].map(String);

export const wellFormedArb = fc
  .tuple(
    fc.oneof(fc.constantFrom(...Object.keys(BODIES)), fc.constantFrom(...HOT_TYPES)),
    fc.nat({ max: 0xffffffff }),
  )
  .chain(([type, id]) => BODIES[type]!.map((fields) => encodeRequest(type, id, fields)));

/** Flips, truncations, insertions and forged lengths applied to a well-formed packet (length prefix included). */
export const mutationArb = fc.oneof(
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

export type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never;

export function mutate(packet: Buffer, mutation: Mutation): Buffer {
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
export function makesHugeFile(packet: Buffer): boolean {
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
export const corruptArb = fc
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

export const INIT = new PacketWriter(FXP.INIT).uint32(3).finish();

/** A packet of a script; `answered` when the server owes it exactly one reply (INIT and well-formed requests). */
export interface ScriptPacket {
  readonly bytes: Buffer;
  readonly answered: boolean;
}

export const wellFormedPacketArb = wellFormedArb
  .filter((packet) => !makesHugeFile(packet))
  .map((bytes): ScriptPacket => ({ bytes, answered: true }));

export const sessionScriptArb = fc.record({
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

export type SessionScript = typeof sessionScriptArb extends fc.Arbitrary<infer S> ? S : never;
