// SFTP extensions (OpenSSH PROTOCOL §4 and draft-ietf-secsh-filexfer-extensions), keyed by request name.
import { createHash } from 'node:crypto';
import type { FileHandle, HashAlgorithm, StatVfs } from '../core/types.js';
import { NotFoundError } from '../errors.js';
import { hasSetAttrs, setAttrsFromAttrs } from './attrs.js';
import {
  extension,
  handleKey,
  lookupFile,
  NAMESPACE_KEY,
  OK,
  type Reply,
  type RequestContext,
  type RequestSpec,
} from './dispatch.js';
import { decodeHandleId } from './handles.js';
import { handleBarrier, handleReadAll, parseHandle, parsePath, parseTwoPaths } from './requests.js';
import { SftpStatusError } from './status.js';
import { EXT, FX } from './wire/constants.js';
import type { Attrs, PacketReader } from './wire/reader.js';
import type { PacketWriter } from './wire/writer.js';

interface CopyDataArgs {
  source: number;
  sourceOffset: number;
  length: number;
  target: number;
  targetOffset: number;
}

interface CheckFileArgs<T> {
  subject: T;
  algorithms: string;
  offset: number;
  length: number;
  blockSize: number;
}

/** Preference order when a client lists several; the draft lets the server pick any it supports. */
export const CHECK_FILE_ALGORITHMS: readonly HashAlgorithm[] = [
  'sha256',
  'sha512',
  'sha384',
  'sha224',
  'sha1',
  'md5',
];
/** The draft's minimum block size when per-block hashes are asked for. */
const MIN_CHECK_BLOCK = 256;

const DIGEST_LENGTHS: Readonly<Record<HashAlgorithm, number>> = Object.fromEntries(
  CHECK_FILE_ALGORITHMS.map((algorithm) => [algorithm, createHash(algorithm).digest().length]),
) as Record<HashAlgorithm, number>;

function statvfsReply(vfs: StatVfs): Reply {
  return {
    kind: 'extended',
    fill: (w) =>
      w
        .uint64(vfs.bsize)
        .uint64(vfs.frsize)
        .uint64(vfs.blocks)
        .uint64(vfs.bfree)
        .uint64(vfs.bavail)
        .uint64(vfs.files)
        .uint64(vfs.ffree)
        .uint64(vfs.favail)
        .uint64(vfs.fsid)
        .uint64(vfs.flag)
        .uint64(vfs.namemax),
  };
}

function singleName(path: string): Reply {
  return { kind: 'name', entries: [{ filename: path, longname: path, attrs: {} }] };
}

/** '~' and '~/x' name the user's home, which is the virtual root; '~user' only for the user itself. */
export function expandTilde(path: string, username: string): string {
  if (!path.startsWith('~')) return path;
  const slash = path.indexOf('/');
  const user = slash === -1 ? path.slice(1) : path.slice(1, slash);
  if (user !== '' && user !== username) throw new NotFoundError();
  const rest = slash === -1 ? '' : path.slice(slash + 1);
  return `/${rest}`;
}

/** Picks the first algorithm of the client's comma-separated list we support, as the draft asks. */
export function chooseHashAlgorithm(list: string): HashAlgorithm | undefined {
  for (const name of list.split(',')) {
    const candidate = name.trim().toLowerCase() as HashAlgorithm;
    if (CHECK_FILE_ALGORITHMS.includes(candidate)) return candidate;
  }
  return undefined;
}

async function checkFile(
  ctx: RequestContext,
  file: FileHandle,
  args: CheckFileArgs<unknown>,
): Promise<Reply> {
  const algorithm = chooseHashAlgorithm(args.algorithms);
  if (!algorithm)
    throw new SftpStatusError({ code: FX.OP_UNSUPPORTED, message: 'No supported hash algorithm' });
  if (args.blockSize !== 0 && args.blockSize < MIN_CHECK_BLOCK) {
    throw new SftpStatusError({ code: FX.BAD_MESSAGE, message: 'Block size below 256' });
  }
  if (args.blockSize !== 0) {
    const size = (await file.stat()).size;
    const start = Math.min(args.offset, size);
    const end = args.length === 0 ? size : Math.min(size, args.offset + args.length);
    const blocks = Math.ceil((end - start) / args.blockSize);
    const room = ctx.limits.maxPacketLength - 64 - algorithm.length;
    if (blocks * DIGEST_LENGTHS[algorithm] > room) {
      throw new SftpStatusError({ code: FX.FAILURE, message: 'Too many blocks for one reply' });
    }
  }
  // The core bounds the bytes hashed (maxHashBytes), audits the read, and stops when the session ends.
  const hashes = await file.checksum(
    { algorithm, offset: args.offset, length: args.length, blockSize: args.blockSize },
    { signal: ctx.signal },
  );
  return {
    kind: 'extended',
    fill: (w) => {
      w.string(EXT.CHECK_FILE_REPLY).string(algorithm);
      for (const hash of hashes) w.raw(hash);
    },
  };
}

function parseCheckFile<T>(subject: (r: PacketReader) => T): (r: PacketReader) => CheckFileArgs<T> {
  return (r) => ({
    subject: subject(r),
    algorithms: r.utf8(),
    offset: r.uint64(),
    length: r.uint64(),
    blockSize: r.uint32(),
  });
}

/** Name → handler. Advertised versions live next to each entry so the VERSION packet cannot drift. */
export const EXTENSIONS: ReadonlyArray<{ version: string; spec: RequestSpec<unknown> }> = [
  {
    version: '1',
    spec: extension<{ from: string; to: string }>({
      name: EXT.POSIX_RENAME,
      writes: true,
      parse: parseTwoPaths,
      handle: async (ctx, args) => {
        await ctx.session.rename(args.from, args.to, { overwrite: true });
        return OK;
      },
    }),
  },
  {
    version: '2',
    spec: extension<{ path: string }>({
      name: EXT.STATVFS,
      writes: false,
      parse: parsePath,
      handle: async (ctx, args) => statvfsReply(await ctx.session.statvfs(args.path)),
    }),
  },
  {
    version: '2',
    spec: extension<{ handle: number }>({
      name: EXT.FSTATVFS,
      writes: false,
      parse: parseHandle,
      claims: (args) => handleReadAll(args.handle),
      handle: async (ctx, args) =>
        statvfsReply(await ctx.session.statvfs(lookupFile(ctx, args.handle).file.path)),
    }),
  },
  {
    version: '1',
    spec: extension<{ from: string; to: string }>({
      name: EXT.HARDLINK,
      writes: true,
      parse: parseTwoPaths,
      handle: async (ctx, args) => {
        await ctx.session.hardlink(args.from, args.to);
        return OK;
      },
    }),
  },
  {
    version: '1',
    spec: extension<{ handle: number }>({
      name: EXT.FSYNC,
      writes: false,
      parse: parseHandle,
      claims: (args) => handleBarrier(args.handle),
      handle: async (ctx, args) => {
        await lookupFile(ctx, args.handle).file.sync();
        return OK;
      },
    }),
  },
  {
    version: '1',
    spec: extension<{ path: string; attrs: Attrs }>({
      name: EXT.LSETSTAT,
      writes: true,
      parse: (r) => ({ path: r.utf8(), attrs: r.attrs() }),
      handle: async (ctx, args) => {
        const set = setAttrsFromAttrs(args.attrs);
        if (hasSetAttrs(set)) await ctx.session.setstat(args.path, set, { followSymlinks: false });
        return OK;
      },
    }),
  },
  {
    version: '1',
    spec: extension<Record<string, never>>({
      name: EXT.LIMITS,
      writes: false,
      parse: () => ({}),
      handle: async (ctx) => ({
        kind: 'extended',
        fill: (w: PacketWriter) =>
          w
            .uint64(ctx.limits.maxPacketLength)
            .uint64(ctx.limits.maxReadLength)
            .uint64(ctx.limits.maxWriteLength)
            .uint64(ctx.limits.maxOpenHandles),
      }),
    }),
  },
  {
    version: '1',
    spec: extension<{ path: string }>({
      name: EXT.EXPAND_PATH,
      writes: false,
      parse: parsePath,
      handle: async (ctx, args) => {
        const expanded = expandTilde(args.path === '' ? '.' : args.path, ctx.session.identity.username);
        return singleName(await ctx.session.realpath(expanded));
      },
    }),
  },
  {
    version: '1',
    spec: extension<{ username: string }>({
      name: EXT.HOME_DIRECTORY,
      writes: false,
      parse: (r) => ({ username: r.utf8() }),
      // Another user's home is not ours to reveal; OpenSSH answers an unknown user with FAILURE too.
      handle: async (ctx, args) => {
        if (args.username !== '' && args.username !== ctx.session.identity.username) {
          throw new SftpStatusError({ code: FX.FAILURE, message: 'Failure' });
        }
        return singleName('/');
      },
    }),
  },
  {
    version: '1',
    spec: extension<CopyDataArgs>({
      name: EXT.COPY_DATA,
      writes: true,
      parse: (r) => ({
        source: decodeHandleId(r.string()),
        sourceOffset: r.uint64(),
        length: r.uint64(),
        target: decodeHandleId(r.string()),
        targetOffset: r.uint64(),
      }),
      claims: (args) => [
        { key: handleKey(args.source), access: 'read' },
        { key: handleKey(args.target), access: 'barrier' },
      ],
      handle: async (ctx, args) => {
        const source = lookupFile(ctx, args.source).file;
        const target = lookupFile(ctx, args.target).file;
        // sftp-server refuses the same handle and handles opened the wrong way round with FAILURE.
        if (args.source === args.target || !source.mode.read || !target.mode.write) {
          throw new SftpStatusError({ code: FX.FAILURE, message: 'Failure' });
        }
        await ctx.session.copyData(source, args.sourceOffset, args.length, target, args.targetOffset, {
          signal: ctx.signal,
        });
        return OK;
      },
    }),
  },
  {
    version: '1',
    spec: extension<CheckFileArgs<number>>({
      name: EXT.CHECK_FILE_HANDLE,
      writes: false,
      parse: parseCheckFile((r) => decodeHandleId(r.string())),
      claims: (args) => handleReadAll(args.subject),
      handle: (ctx, args) => checkFile(ctx, lookupFile(ctx, args.subject).file, args),
    }),
  },
  {
    version: '1',
    spec: extension<CheckFileArgs<string>>({
      name: EXT.CHECK_FILE_NAME,
      writes: false,
      parse: parseCheckFile((r) => r.utf8()),
      claims: () => [{ key: NAMESPACE_KEY, access: 'read' }],
      handle: async (ctx, args) => {
        const file = await ctx.session.openFile(args.subject, {
          read: true,
          write: false,
          append: false,
          create: false,
          truncate: false,
          exclusive: false,
        });
        try {
          return await checkFile(ctx, file, args);
        } finally {
          await file
            .close()
            .catch((err: unknown) => ctx.logger.warn({ err }, 'check-file-name: close failed'));
        }
      },
    }),
  },
];

export const EXTENSIONS_BY_NAME: ReadonlyMap<string, RequestSpec<unknown>> = new Map(
  EXTENSIONS.map((entry) => [entry.spec.name, entry.spec]),
);

export const ADVERTISED_EXTENSIONS: ReadonlyArray<readonly [string, string]> = EXTENSIONS.map(
  (entry) => [entry.spec.name, entry.version] as const,
);
