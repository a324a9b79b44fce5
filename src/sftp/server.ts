// Serves one SFTP v3 session on a raw SSH channel: the request loop (framing, dispatch, backpressure) and teardown;
// reply ordering is in reply-lanes.ts, byte budgeting in reply-budget.ts, reply encoding in replies.ts.
import type { Duplex } from 'node:stream';
import type { BudgetAccount, FileSession } from '../core/types.js';
import { FerryError, ProtocolError, toFerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SinkTap } from '../util/socket-reads.js';
import { ChannelInput } from './channel-input.js';
import {
  NAMESPACE_KEY,
  type Reply,
  type RequestContext,
  type RequestSpec,
  type SftpLimits,
} from './dispatch.js';
import { ADVERTISED_EXTENSIONS, EXTENSIONS_BY_NAME } from './extensions.js';
import { HandleTable } from './handles.js';
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_OPEN_HANDLES } from './limits.js';
import { ReadBufferPool } from './read-buffers.js';
import { encodeReply } from './replies.js';
import { SessionByteBudget } from './reply-budget.js';
import { ReplyGather } from './reply-gather.js';
import { type LaneSlot, ReplyLanes } from './reply-lanes.js';
import { REQUESTS_BY_TYPE } from './requests.js';
import { RequestScheduler } from './scheduler.js';
import { statusFromError } from './status.js';
import { sendExitStatus, TEARDOWN_GRACE_MS, waitWithTimeout } from './teardown.js';
import { DEFAULT_MAX_PACKET_LENGTH, FX, FXP, MAX_READ_LENGTH, MAX_WRITE_LENGTH } from './wire/constants.js';
import type { FramedPacket } from './wire/framer.js';
import { PacketReader } from './wire/reader.js';
import { STATUS_MESSAGES } from './wire/status.js';
import { DATA_HEADER_LENGTH, encodeStatus, encodeVersion } from './wire/writer.js';
import { WriteBufferPool } from './write-buffers.js';

export interface SftpServeOptions {
  logger: Logger;
  /** Largest request packet accepted (and advertised in limits@openssh.com); default 262144. */
  maxPacketLength?: number;
  /** Requests accepted and not yet answered; default 64. */
  maxInFlight?: number;
  /** Open file and directory handles; default 256. */
  maxOpenHandles?: number;
  /** Request packets + READ reply bytes held before the session stops reading; default 4 MiB. */
  maxBufferedBytes?: number;
  /** Refuse every request whose table row writes, before it reaches the core. */
  readOnly?: boolean;
  /**
   * The connection's (and through it the user's) budget for the same bytes: maxBufferedBytes bounds one
   * session, this bounds all sessions of a connection and all connections of a user.
   */
  replyBudget?: BudgetAccount | undefined;
  /** Aborted when the connection is gone: the session tears down even if its channel never says so. */
  signal?: AbortSignal | undefined;
  /** Told how long each request's handler ran (the metrics); called on the hot path, so it must stay cheap. */
  observer?: SftpRequestObserver | undefined;
  /** The connection's socket reads (util/socket-reads.ts): the channel's data then comes through its sink. */
  sinkTap?: SinkTap | undefined;
}

/** Watches requests without knowing the server: `type` is the table row's name (`read`, `posix-rename@openssh.com`). */
export interface SftpRequestObserver {
  requestDone(type: string, seconds: number): void;
}

/**
 * Resolves when the session is over: the client ended the channel (we answer what is pending, then end
 * ours), the channel closed, or a malformed packet ended this session. Never rejects; always closes `session`.
 */
export function serveSftp(channel: Duplex, session: FileSession, options: SftpServeOptions): Promise<void> {
  return new SftpConnection(channel, session, options).run();
}

/*
 * Backpressure, and what ssh2's Channel does with it (node_modules/ssh2/lib/Channel.js, server.js):
 * - Incoming: see channel-input.ts (the client's window is what stops it).
 * - Outgoing: `_write()` sends at most `outgoing.window` bytes and parks the rest (and its callback) until
 *   the client's WINDOW_ADJUST; write() returns false once 2 MiB are queued (writable highWaterMark).
 *   Nothing else bounds it (ssh2 has no backpressure of its own), so we stop accepting requests while
 *   `writableNeedDrain` is set and count READ reply bytes against `maxBufferedBytes` until their write
 *   callback fires. A client that pipelines 20 000 READs and never reads replies thus costs the server
 *   ~maxBufferedBytes of replies + the bounded request bytes above, and its own window then stops it.
 * - Note: `_write()` silently drops data (and never calls back) once the channel is no longer open, so
 *   teardown never waits for write callbacks.
 */
class SftpConnection {
  readonly #channel: Duplex;
  readonly #session: FileSession;
  readonly #logger: Logger;
  readonly #input: ChannelInput;
  readonly #scheduler: RequestScheduler;
  readonly #ctx: RequestContext;
  readonly #maxInFlight: number;
  readonly #readOnly: boolean;
  readonly #bytes: SessionByteBudget;
  /** Aborted at teardown: running work (hashing, copying) stops between chunks. */
  readonly #stop = new AbortController();
  readonly #connectionSignal: AbortSignal | undefined;
  readonly #observer: SftpRequestObserver | undefined;
  #stopWaitingForRoom: (() => void) | undefined;

  #initialized = false;
  #stopping = false;
  #inputEnded = false;
  #channelClosed = false;
  #paused = false;
  /** A packet taken from the framer that did not fit the connection's budget; accepted first once it does. */
  #deferred: FramedPacket | undefined;
  /** Finished replies waiting for earlier ones of their lane (see RequestSpec.replyLane). */
  readonly #lanes = new ReplyLanes();
  /** Small replies of one turn go out as one channel write (reply-gather.ts). */
  readonly #replies: ReplyGather;
  #resolve: () => void = () => {};

  constructor(channel: Duplex, session: FileSession, options: SftpServeOptions) {
    this.#channel = channel;
    this.#replies = new ReplyGather(channel, () => this.#channelClosed);
    this.#session = session;
    this.#logger = options.logger;
    const maxPacketLength = options.maxPacketLength ?? DEFAULT_MAX_PACKET_LENGTH;
    const limits: SftpLimits = {
      maxPacketLength,
      // Keep READ replies and WRITE requests inside one packet even when the packet limit is lowered.
      maxReadLength: Math.min(MAX_READ_LENGTH, maxPacketLength - 1024),
      maxWriteLength: Math.min(MAX_WRITE_LENGTH, maxPacketLength - 1024),
      maxOpenHandles: options.maxOpenHandles ?? DEFAULT_MAX_OPEN_HANDLES,
    };
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#readOnly = options.readOnly ?? false;
    this.#bytes = new SessionByteBudget(maxBufferedBytes, options.replyBudget);
    this.#connectionSignal = options.signal;
    this.#observer = options.observer;
    this.#scheduler = new RequestScheduler(() => this.#pump());
    this.#ctx = {
      session,
      handles: new HandleTable(limits.maxOpenHandles),
      limits,
      logger: this.#logger,
      signal: this.#stop.signal,
      // Enough for every READ the byte budget lets run at once.
      readBuffers: new ReadBufferPool(DATA_HEADER_LENGTH, maxBufferedBytes),
      // As many as the byte budget lets WRITEs be accepted at once.
      writeBuffers: new WriteBufferPool(maxBufferedBytes),
    };
    this.#input = new ChannelInput(channel, {
      maxPacketLength,
      writeBuffers: this.#ctx.writeBuffers,
      tap: options.sinkTap,
      onInput: () => this.#pump(),
      stopping: () => this.#stopping,
      onSinkError: (err) => this.#protocolFailure(err),
    });
  }

  run(): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
    const channel = this.#channel;
    // After teardown starts, input is dropped rather than buffered: nothing more will be served.
    this.#input.start();
    channel.on('end', () => {
      this.#inputEnded = true;
      this.#pump();
    });
    channel.on('drain', () => this.#pump());
    channel.on('close', () => this.#onChannelGone('channel closed'));
    channel.on('error', (err: Error) => {
      this.#logger.warn({ err }, 'sftp channel error');
      this.#onChannelGone('channel error');
    });
    const connection = this.#connectionSignal;
    if (connection?.aborted) this.#onChannelGone('connection closed');
    else connection?.addEventListener('abort', this.#onConnectionGone, { once: true });
    this.#stopWaitingForRoom = this.#bytes.onRoom(() => this.#pump());
    return done;
  }

  readonly #onConnectionGone = (): void => this.#onChannelGone('connection closed');

  #onChannelGone(reason: string): void {
    if (this.#channelClosed) return;
    this.#channelClosed = true;
    this.#deferred = undefined;
    this.#scheduler.cancelQueued();
    void this.#shutdown(reason);
  }

  #canAccept(): boolean {
    if (this.#stopping || this.#channelClosed) return false;
    if (this.#scheduler.size >= this.#maxInFlight) return false;
    if (this.#bytes.full) return false;
    return !this.#channel.writableNeedDrain;
  }

  /** Accepts whole packets while limits allow, then pauses or resumes the channel to match. */
  #pump(): void {
    if (this.#stopping) return;
    let starved = false;
    while (this.#canAccept()) {
      let packet: FramedPacket | null;
      try {
        packet = this.#deferred ?? this.#input.nextPacket();
        this.#deferred = undefined;
        if (packet === null) {
          starved = true;
          break;
        }
        if (!this.#accept(packet)) {
          // Over the connection's or user's budget: hold this packet and stop reading until room is given back.
          this.#deferred = packet;
          break;
        }
      } catch (err) {
        this.#protocolFailure(err);
        return;
      }
    }
    const shouldFlow = this.#canAccept() && this.#deferred === undefined;
    if (shouldFlow && this.#paused) {
      this.#paused = false;
      this.#input.resume();
    } else if (!shouldFlow && !this.#paused) {
      this.#paused = true;
      this.#input.pause();
    }
    if (this.#inputEnded && starved && this.#deferred === undefined && this.#scheduler.size === 0) {
      if (this.#input.bufferedBytes > 0) {
        this.#logger.warn({ bytes: this.#input.bufferedBytes }, 'sftp client ended inside a packet');
      }
      void this.#shutdown('client ended the session');
    }
  }

  #protocolFailure(err: unknown): void {
    const error = toFerryError(err);
    if (error instanceof ProtocolError) {
      this.#logger.warn({ reason: error.message }, 'sftp protocol error: ending session');
    } else {
      this.#logger.error({ err }, 'sftp: unexpected error while parsing: ending session');
    }
    this.#scheduler.cancelQueued();
    void this.#shutdown('protocol error');
  }

  /** False when the packet's cost does not fit the connection's budget (nothing happened; try again later). */
  #accept(packet: FramedPacket): boolean {
    const reader = new PacketReader(packet);
    const type = reader.uint8();
    if (!this.#initialized) {
      if (type !== FXP.INIT) throw new ProtocolError(`expected SSH_FXP_INIT, got packet type ${type}`);
      const clientVersion = reader.uint32();
      this.#initialized = true;
      this.#logger.debug({ clientVersion }, 'sftp session started');
      // We speak v3 whatever the client offers, as OpenSSH's sftp-server does.
      this.#send(encodeVersion(ADVERTISED_EXTENSIONS));
      return true;
    }
    if (type === FXP.INIT) throw new ProtocolError('second SSH_FXP_INIT');
    const id = reader.uint32();
    let spec: RequestSpec<unknown> | undefined;
    let requestName: string;
    if (type === FXP.EXTENDED) {
      requestName = reader.utf8();
      spec = EXTENSIONS_BY_NAME.get(requestName);
    } else {
      spec = REQUESTS_BY_TYPE.get(type);
      requestName = spec?.name ?? `type ${type}`;
    }
    if (!spec) {
      this.#logger.debug({ id, request: requestName }, 'sftp: unsupported request');
      this.#send(encodeStatus(id, FX.OP_UNSUPPORTED, STATUS_MESSAGES[FX.OP_UNSUPPORTED]));
      return true;
    }
    const args = spec.parse(reader);
    const writes = typeof spec.writes === 'function' ? spec.writes(args) : spec.writes;
    if (this.#readOnly && writes) {
      this.#send(encodeStatus(id, FX.PERMISSION_DENIED, STATUS_MESSAGES[FX.PERMISSION_DENIED]));
      return true;
    }
    const claims = spec.claims?.(args, this.#ctx) ?? [
      { key: NAMESPACE_KEY, access: writes ? 'write' : 'read' },
    ];
    const cost = packet.length + (spec.replyBytes?.(args, this.#ctx.limits) ?? 0);
    // Parsing again later is cheap and has no side effects; taking first would need a way to give back.
    if (!this.#bytes.tryTake(cost)) return false;
    const handler = spec;
    const lane = spec.replyLane?.(args);
    const slot = lane === undefined ? undefined : this.#lanes.enter(lane);
    // After the budget took it: a packet deferred above is parsed again, and must not be copied twice.
    const staged = spec.stage ? spec.stage(args, this.#ctx) : args;
    this.#scheduler.add(claims, () => this.#run(handler, id, staged, cost, slot));
    return true;
  }

  async #run(
    spec: RequestSpec<unknown>,
    id: number,
    args: unknown,
    cost: number,
    slot?: LaneSlot,
  ): Promise<void> {
    let reply: Reply;
    // The handler's own time: waiting behind earlier requests of the same file is the client's pipelining, not latency.
    const started = performance.now();
    try {
      reply = await spec.handle(this.#ctx, args);
    } catch (err) {
      const status = statusFromError(err);
      const code = toFerryError(err).code;
      // Work cut short by teardown is expected, not an I/O failure worth a warning.
      if ((code === 'ERR_IO' || code === 'ERR_CONFIG') && !this.#stop.signal.aborted) {
        this.#logger.warn({ err, request: spec.name, id }, 'sftp request failed');
      } else {
        this.#logger.debug({ request: spec.name, id, code, status: status.code }, 'sftp request refused');
      }
      reply = { kind: 'status', status };
    }
    this.#observer?.requestDone(spec.name, (performance.now() - started) / 1000);
    const deliver = (): void => {
      try {
        this.#reply(id, reply, () => this.#release(cost));
      } catch (err) {
        this.#logger.error({ err, request: spec.name, id }, 'sftp: could not send reply');
        this.#release(cost);
      }
    };
    if (slot === undefined) {
      deliver();
      return;
    }
    slot.deliver = deliver;
    this.#lanes.flush(slot.lane);
  }

  #release(cost: number): void {
    this.#bytes.release(cost);
    this.#pump();
  }

  #reply(id: number, reply: Reply, flushed: () => void): void {
    if (this.#channelClosed) {
      flushed();
      return;
    }
    const packet = encodeReply(id, reply);
    // A DATA reply's read buffer goes back to its pool only once the channel has taken the packet.
    const onFlushed =
      reply.kind === 'data'
        ? () => {
            reply.release?.();
            flushed();
          }
        : flushed;
    this.#send(packet, onFlushed);
  }

  #send(buffer: Buffer, flushed?: () => void): void {
    this.#replies.send(buffer, flushed);
  }

  #shutdownStarted = false;

  async #shutdown(reason: string): Promise<void> {
    if (this.#shutdownStarted) return;
    this.#shutdownStarted = true;
    this.#stopping = true;
    this.#logger.debug({ reason }, 'sftp session ending');
    // Work in progress (check-file hashing, copy-data) stops now rather than running for a client that left.
    this.#stop.abort(new FerryError('ERR_IO', `sftp session ending: ${reason}`));
    try {
      const settled = await waitWithTimeout(this.#scheduler.idle(), TEARDOWN_GRACE_MS);
      if (!settled) {
        this.#logger.warn({ pending: this.#scheduler.size }, 'sftp: requests still running at teardown');
      }
      // Paused input would keep ssh2 from ever seeing our end: let it flow (the data handler drops it).
      if (this.#paused) this.#input.resume();
      this.#replies.flush();
      if (!this.#channelClosed) {
        sendExitStatus(this.#channel, reason === 'protocol error' ? 1 : 0);
        this.#channel.end();
      }
    } catch (err) {
      this.#logger.error({ err }, 'sftp: ending the channel failed');
    }
    try {
      await this.#session.close();
    } catch (err) {
      this.#logger.warn({ err }, 'sftp: closing the file session failed');
    }
    this.#ctx.readBuffers.clear();
    this.#ctx.writeBuffers.clear();
    // Replies the channel will never flush (it is gone) must not keep the connection's budget.
    this.#bytes.releaseAll();
    this.#stopWaitingForRoom?.();
    // The connection outlives this session: leave nothing registered on it.
    this.#connectionSignal?.removeEventListener('abort', this.#onConnectionGone);
    this.#resolve();
  }
}
