// Shapes shared by the request and extension tables: a parsed request, its context, and its reply.
import type { FileSession } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { FileEntry, HandleEntry, HandleTable } from './handles.js';
import type { ReadBufferPool } from './read-buffers.js';
import type { Claim } from './scheduler.js';
import { SftpStatusError } from './status.js';
import { FX } from './wire/constants.js';
import type { Attrs, NameEntry, PacketReader } from './wire/reader.js';
import { type SftpStatus, statusOf } from './wire/status.js';
import type { PacketWriter } from './wire/writer.js';
import type { WriteBufferPool } from './write-buffers.js';

export type Reply =
  | { readonly kind: 'status'; readonly status: SftpStatus }
  | { readonly kind: 'handle'; readonly handle: Buffer }
  /**
   * `packet` is DATA_HEADER_LENGTH bytes of headroom, then the data: the server fills in the header there.
   * `release` runs once the channel no longer needs it (the buffer goes back to the session's pool).
   */
  | { readonly kind: 'data'; readonly packet: Buffer; readonly release?: () => void }
  | { readonly kind: 'name'; readonly entries: readonly NameEntry[] }
  | { readonly kind: 'attrs'; readonly attrs: Attrs }
  | { readonly kind: 'extended'; readonly fill: (writer: PacketWriter) => void };

export const OK: Reply = { kind: 'status', status: statusOf(FX.OK) };

export function statusReply(status: SftpStatus): Reply {
  return { kind: 'status', status };
}

export interface SftpLimits {
  readonly maxPacketLength: number;
  readonly maxReadLength: number;
  readonly maxWriteLength: number;
  readonly maxOpenHandles: number;
}

export interface RequestContext {
  readonly session: FileSession;
  readonly handles: HandleTable;
  readonly limits: SftpLimits;
  readonly logger: Logger;
  /** READ reply buffers (DATA_HEADER_LENGTH + maxReadLength bytes), reused across the session's READs. */
  readonly readBuffers: ReadBufferPool;
  /** Copies of WRITE data (write-buffers.ts), reused across the session's WRITEs. */
  readonly writeBuffers: WriteBufferPool;
  /** Aborted when the session tears down: long handlers (check-file, copy-data) pass it on and stop early. */
  readonly signal: AbortSignal;
}

/**
 * One request kind. `parse` runs when the packet arrives (a malformed body is a protocol error);
 * `claims` say what it touches so the scheduler keeps per-file order; `handle` stays policy-free.
 */
export interface RequestSpec<A> {
  readonly name: string;
  /** Mutates the file system; checked before dispatch (read-only sessions) and used for ordering. */
  readonly writes: boolean | ((args: A) => boolean);
  parse(reader: PacketReader): A;
  /**
   * Runs once the request is accepted, before it waits for its turn; what it returns is what `handle` gets.
   * A WRITE copies its data out of the packet here, so the packet's buffers are not kept while it waits.
   */
  stage?(args: A, ctx: RequestContext): A;
  claims?(args: A, ctx: RequestContext): Claim[];
  /** Reply bytes this request will hold beyond its own packet (READ data), for the session's memory cap. */
  replyBytes?(args: A, limits: SftpLimits): number;
  /** Requests naming the same lane get their replies in arrival order, whatever order they finish in. */
  replyLane?(args: A): string;
  handle(ctx: RequestContext, args: A): Promise<Reply>;
}

export interface RequestRow<A> extends RequestSpec<A> {
  readonly type: number;
}

/** Erases a row's argument type for the table while keeping each row checked against its own. */
export function row<A>(spec: RequestRow<A>): RequestRow<unknown> {
  return spec as RequestRow<unknown>;
}

export function extension<A>(spec: RequestSpec<A>): RequestSpec<unknown> {
  return spec as RequestSpec<unknown>;
}

/** OpenSSH answers an unknown handle with SSH2_FX_FAILURE; we say why in the message. */
export function badHandle(): SftpStatusError {
  return new SftpStatusError({ code: FX.FAILURE, message: 'Bad handle' });
}

export function lookupHandle(ctx: RequestContext, id: number): HandleEntry {
  const entry = ctx.handles.get(id);
  if (!entry) throw badHandle();
  return entry;
}

export function lookupFile(ctx: RequestContext, id: number): FileEntry {
  const entry = ctx.handles.get(id);
  if (entry?.kind !== 'file') throw badHandle();
  return entry;
}

export function handleKey(id: number): string {
  return `h:${id}`;
}

/** The namespace lane: path requests that change it run in arrival order against all path requests. */
export const NAMESPACE_KEY = 'ns';
