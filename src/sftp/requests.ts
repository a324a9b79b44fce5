// The SFTP v3 request table: one row per packet type, short policy-free handlers over the core FileSession.
import type { OpenMode } from '../core/types.js';
import { type ByteChunks, byteLength, chunksOf } from '../util/byte-chunks.js';
import { attrsFromStat, hasSetAttrs, setAttrsFromAttrs } from './attrs.js';
import {
  handleKey,
  lookupFile,
  lookupHandle,
  NAMESPACE_KEY,
  OK,
  type Reply,
  type RequestContext,
  type RequestRow,
  row,
  statusReply,
} from './dispatch.js';
import { decodeHandleId, encodeHandleId } from './handles.js';
import { READDIR_REPLY_BYTES } from './limits.js';
import { formatLongname } from './longname.js';
import type { Claim } from './scheduler.js';
import { SftpStatusError } from './status.js';
import { FX, FXF, FXP } from './wire/constants.js';
import type { Attrs, NameEntry, PacketReader } from './wire/reader.js';
import { statusOf } from './wire/status.js';
import { DATA_HEADER_LENGTH } from './wire/writer.js';

interface PathArgs {
  path: string;
}
interface PathAttrsArgs {
  path: string;
  attrs: Attrs;
}
interface TwoPathArgs {
  from: string;
  to: string;
}
interface HandleArgs {
  handle: number;
}
interface OpenArgs {
  path: string;
  pflags: number;
  attrs: Attrs;
}
interface ReadArgs {
  handle: number;
  offset: number;
  length: number;
}
interface WriteArgs {
  handle: number;
  offset: number;
  /**
   * Slices of the channel chunks the packet arrived in (parse copies nothing); once accepted, a large WRITE's
   * data is a copy in a pooled buffer instead (`staged`, write-buffers.ts).
   */
  data: ByteChunks;
  length: number;
  /** The session's pooled buffer holding `data`, given back once the write settled. */
  staged?: Buffer;
}
interface HandleAttrsArgs {
  handle: number;
  attrs: Attrs;
}

export const parsePath = (r: PacketReader): PathArgs => ({ path: r.utf8() });
export const parsePathAttrs = (r: PacketReader): PathAttrsArgs => ({ path: r.utf8(), attrs: r.attrs() });
export const parseTwoPaths = (r: PacketReader): TwoPathArgs => ({ from: r.utf8(), to: r.utf8() });
export const parseHandle = (r: PacketReader): HandleArgs => ({ handle: decodeHandleId(r.string()) });

/** Mirrors sftp-server's flags_from_portable(): neither READ nor WRITE still opens for reading. */
export function openModeFromPflags(pflags: number): OpenMode {
  const write = (pflags & FXF.WRITE) !== 0;
  return {
    read: (pflags & FXF.READ) !== 0 || !write,
    write,
    append: (pflags & FXF.APPEND) !== 0,
    create: (pflags & FXF.CREAT) !== 0,
    truncate: (pflags & FXF.TRUNC) !== 0,
    exclusive: (pflags & FXF.EXCL) !== 0,
  };
}

const MUTATING_PFLAGS = FXF.WRITE | FXF.APPEND | FXF.CREAT | FXF.TRUNC | FXF.EXCL;

/** A handle request that must run alone on its handle (close, fsetstat, readdir, fsync). */
export function handleBarrier(handle: number): Claim[] {
  return [{ key: handleKey(handle), access: 'barrier' }];
}

export function handleReadAll(handle: number): Claim[] {
  return [{ key: handleKey(handle), access: 'read' }];
}

function nameReply(path: string): Reply {
  const entry: NameEntry = { filename: path, longname: path, attrs: {} };
  return { kind: 'name', entries: [entry] };
}

async function open(ctx: RequestContext, args: OpenArgs): Promise<Reply> {
  if (!ctx.handles.reserve()) {
    throw new SftpStatusError({ code: FX.FAILURE, message: 'Too many open handles' });
  }
  try {
    const set = setAttrsFromAttrs(args.attrs);
    const file = await ctx.session.openFile(
      args.path,
      openModeFromPflags(args.pflags),
      hasSetAttrs(set) ? set : undefined,
    );
    return { kind: 'handle', handle: encodeHandleId(ctx.handles.addFile(file).id) };
  } finally {
    ctx.handles.release();
  }
}

async function close(ctx: RequestContext, args: HandleArgs): Promise<Reply> {
  const entry = lookupHandle(ctx, args.handle);
  // Forget the handle first: whatever close() reports, the client must not use it again.
  ctx.handles.delete(entry.id);
  if (entry.kind === 'file') await entry.file.close();
  else await entry.dir.close();
  return OK;
}

async function read(ctx: RequestContext, args: ReadArgs): Promise<Reply> {
  const { file } = lookupFile(ctx, args.handle);
  // Like sftp-server, longer requests get a short read rather than an error. The data lands after room
  // for the reply header, in a reused buffer, so the reply goes out as one buffer.
  const length = Math.min(args.length, ctx.limits.maxReadLength);
  const buffers = ctx.readBuffers;
  const into = buffers.take(length);
  let packet: Buffer;
  try {
    packet = await file.read(args.offset, length, DATA_HEADER_LENGTH, into);
  } catch (err) {
    buffers.give(into);
    throw err;
  }
  if (packet.length === DATA_HEADER_LENGTH) {
    buffers.give(into);
    return statusReply(statusOf(FX.EOF));
  }
  return { kind: 'data', packet, release: () => buffers.give(into) };
}

async function write(ctx: RequestContext, args: WriteArgs): Promise<Reply> {
  try {
    const { file } = lookupFile(ctx, args.handle);
    await file.write(args.offset, args.data);
  } finally {
    ctx.writeBuffers.give(args.staged);
  }
  return OK;
}

async function lstat(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  return { kind: 'attrs', attrs: attrsFromStat(await ctx.session.lstat(args.path)) };
}

async function stat(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  return { kind: 'attrs', attrs: attrsFromStat(await ctx.session.stat(args.path)) };
}

async function fstat(ctx: RequestContext, args: HandleArgs): Promise<Reply> {
  const { file } = lookupFile(ctx, args.handle);
  return { kind: 'attrs', attrs: attrsFromStat(await file.stat()) };
}

async function setstat(ctx: RequestContext, args: PathAttrsArgs): Promise<Reply> {
  const set = setAttrsFromAttrs(args.attrs);
  if (hasSetAttrs(set)) await ctx.session.setstat(args.path, set);
  return OK;
}

async function fsetstat(ctx: RequestContext, args: HandleAttrsArgs): Promise<Reply> {
  const { file } = lookupFile(ctx, args.handle);
  const set = setAttrsFromAttrs(args.attrs);
  if (hasSetAttrs(set)) await file.setstat(set);
  return OK;
}

async function opendir(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  if (!ctx.handles.reserve()) {
    throw new SftpStatusError({ code: FX.FAILURE, message: 'Too many open handles' });
  }
  try {
    const dir = await ctx.session.openDir(args.path);
    return { kind: 'handle', handle: encodeHandleId(ctx.handles.addDir(dir).id) };
  } finally {
    ctx.handles.release();
  }
}

/** A NAME entry's bytes besides its two strings: their lengths and the attrs of attrsFromStat (flags, size,
 *  uid+gid, permissions, atime+mtime). */
const NAME_ENTRY_OVERHEAD = 4 + 4 + 4 + 8 + 8 + 4 + 8;

/** Core batches can be larger than one reply; the rest waits in the handle for the next READDIR. */
async function readdir(ctx: RequestContext, args: HandleArgs): Promise<Reply> {
  const entry = lookupHandle(ctx, args.handle);
  if (entry.kind !== 'dir') throw new SftpStatusError({ code: FX.FAILURE, message: 'Bad handle' });
  while (entry.pending.length === 0 && !entry.exhausted) {
    const batch = await entry.dir.read();
    if (batch === null) entry.exhausted = true;
    else entry.pending = batch;
  }
  if (entry.pending.length === 0) return statusReply(statusOf(FX.EOF));
  const now = Date.now() / 1000;
  const entries: NameEntry[] = [];
  let bytes = 0;
  let taken = 0;
  for (const item of entry.pending) {
    const longname = formatLongname(item.name, item.stat, now);
    bytes += NAME_ENTRY_OVERHEAD + Buffer.byteLength(item.name) + Buffer.byteLength(longname);
    if (taken > 0 && bytes > READDIR_REPLY_BYTES) break;
    entries.push({ filename: item.name, longname, attrs: attrsFromStat(item.stat) });
    taken++;
  }
  entry.pending.splice(0, taken);
  return { kind: 'name', entries };
}

async function remove(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  await ctx.session.remove(args.path);
  return OK;
}

async function mkdir(ctx: RequestContext, args: PathAttrsArgs): Promise<Reply> {
  const set = setAttrsFromAttrs(args.attrs);
  await ctx.session.mkdir(args.path, hasSetAttrs(set) ? set : undefined);
  return OK;
}

async function rmdir(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  await ctx.session.rmdir(args.path);
  return OK;
}

async function realpath(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  return nameReply(await ctx.session.realpath(args.path === '' ? '.' : args.path));
}

/** v3 rename never replaces an existing target (posix-rename@openssh.com does). */
async function rename(ctx: RequestContext, args: TwoPathArgs): Promise<Reply> {
  await ctx.session.rename(args.from, args.to, { overwrite: false });
  return OK;
}

async function readlink(ctx: RequestContext, args: PathArgs): Promise<Reply> {
  return nameReply(await ctx.session.readlink(args.path));
}

/** OpenSSH sends (and its sftp-server reads) the link target first, then the link path: PROTOCOL 4.1. */
async function symlink(ctx: RequestContext, args: TwoPathArgs): Promise<Reply> {
  await ctx.session.symlink(args.from, args.to);
  return OK;
}

export const REQUESTS: ReadonlyArray<RequestRow<unknown>> = [
  row<OpenArgs>({
    type: FXP.OPEN,
    name: 'open',
    writes: (args) => (args.pflags & MUTATING_PFLAGS) !== 0,
    parse: (r) => ({ path: r.utf8(), pflags: r.uint32(), attrs: r.attrs() }),
    handle: open,
  }),
  row<HandleArgs>({
    type: FXP.CLOSE,
    name: 'close',
    writes: false,
    parse: parseHandle,
    // Closing a written file publishes it (atomic upload): later path requests must see that.
    claims: (args, ctx) => {
      const entry = ctx.handles.get(args.handle);
      const claims = handleBarrier(args.handle);
      if (entry?.kind === 'file' && entry.file.mode.write)
        claims.push({ key: NAMESPACE_KEY, access: 'write' });
      return claims;
    },
    handle: close,
  }),
  row<ReadArgs>({
    type: FXP.READ,
    name: 'read',
    writes: false,
    parse: (r) => ({ handle: decodeHandleId(r.string()), offset: r.uint64(), length: r.uint32() }),
    claims: (args) => [
      { key: handleKey(args.handle), access: 'read', start: args.offset, end: args.offset + args.length },
    ],
    replyBytes: (args, limits) => Math.min(args.length, limits.maxReadLength),
    // PuTTY's pscp takes an EOF that overtakes the data before it for a lost connection; sftp-server never reorders.
    replyLane: (args) => handleKey(args.handle),
    handle: read,
  }),
  row<WriteArgs>({
    type: FXP.WRITE,
    name: 'write',
    writes: true,
    parse: (r) => {
      const handle = decodeHandleId(r.string());
      const offset = r.uint64();
      const data = r.stringChunks();
      return { handle, offset, data, length: byteLength(data) };
    },
    stage: (args, ctx) => {
      const staged = ctx.writeBuffers.stage(chunksOf(args.data), args.length);
      // Every field named, not `{ ...args, … }`: this runs per WRITE, and Node 20 builds that spread slowly
      // (util/with-fields.ts).
      return staged.buffer
        ? {
            handle: args.handle,
            offset: args.offset,
            data: staged.data,
            length: args.length,
            staged: staged.buffer,
          }
        : args;
    },
    // Appends land wherever the end is when they run, so they keep arrival order among themselves.
    claims: (args, ctx) => {
      const entry = ctx.handles.get(args.handle);
      if (entry?.kind === 'file' && entry.file.mode.append)
        return [{ key: handleKey(args.handle), access: 'write' }];
      const end = args.offset + args.length;
      return [{ key: handleKey(args.handle), access: 'write', start: args.offset, end }];
    },
    handle: write,
  }),
  row<PathArgs>({ type: FXP.LSTAT, name: 'lstat', writes: false, parse: parsePath, handle: lstat }),
  row<HandleArgs>({
    type: FXP.FSTAT,
    name: 'fstat',
    writes: false,
    parse: parseHandle,
    claims: (args) => handleReadAll(args.handle),
    handle: fstat,
  }),
  row<PathAttrsArgs>({
    type: FXP.SETSTAT,
    name: 'setstat',
    writes: true,
    parse: parsePathAttrs,
    handle: setstat,
  }),
  row<HandleAttrsArgs>({
    type: FXP.FSETSTAT,
    name: 'fsetstat',
    writes: true,
    parse: (r) => ({ handle: decodeHandleId(r.string()), attrs: r.attrs() }),
    claims: (args) => handleBarrier(args.handle),
    handle: fsetstat,
  }),
  row<PathArgs>({ type: FXP.OPENDIR, name: 'opendir', writes: false, parse: parsePath, handle: opendir }),
  row<HandleArgs>({
    type: FXP.READDIR,
    name: 'readdir',
    writes: false,
    parse: parseHandle,
    claims: (args) => handleBarrier(args.handle),
    handle: readdir,
  }),
  row<PathArgs>({ type: FXP.REMOVE, name: 'remove', writes: true, parse: parsePath, handle: remove }),
  row<PathAttrsArgs>({ type: FXP.MKDIR, name: 'mkdir', writes: true, parse: parsePathAttrs, handle: mkdir }),
  row<PathArgs>({ type: FXP.RMDIR, name: 'rmdir', writes: true, parse: parsePath, handle: rmdir }),
  row<PathArgs>({ type: FXP.REALPATH, name: 'realpath', writes: false, parse: parsePath, handle: realpath }),
  row<PathArgs>({ type: FXP.STAT, name: 'stat', writes: false, parse: parsePath, handle: stat }),
  row<TwoPathArgs>({ type: FXP.RENAME, name: 'rename', writes: true, parse: parseTwoPaths, handle: rename }),
  row<PathArgs>({ type: FXP.READLINK, name: 'readlink', writes: false, parse: parsePath, handle: readlink }),
  row<TwoPathArgs>({
    type: FXP.SYMLINK,
    name: 'symlink',
    writes: true,
    parse: parseTwoPaths,
    handle: symlink,
  }),
];

export const REQUESTS_BY_TYPE: ReadonlyMap<number, RequestRow<unknown>> = new Map(
  REQUESTS.map((request) => [request.type, request]),
);
