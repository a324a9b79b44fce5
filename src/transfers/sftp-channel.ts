// The client end of an SFTP session: frames the server's replies, matches them to requests by id, reads STATUS as errors.
import type { Duplex } from 'node:stream';
import { FerryError, ProtocolError } from '../errors.js';
import { FX, FXP, SFTP_VERSION } from '../sftp/wire/constants.js';
import { PacketFramer } from '../sftp/wire/framer.js';
import { PacketReader } from '../sftp/wire/reader.js';
import { errorCodeForStatus } from '../sftp/wire/status.js';
import { PacketWriter } from '../sftp/wire/writer.js';
import { ReplyAssembler, ReplyBuffers } from './reply-assembler.js';

/** Replies larger than this end the session: bounded memory whatever the server sends. */
const MAX_INCOMING_PACKET = 4 * 1024 * 1024;
/** Request packets up to this size are gathered into one channel write per turn (an SSH packet's payload is 32 KiB). */
const COALESCE_BYTES = 16 * 1024;

/**
 * A STATUS reply other than OK, with the server's message; `sftpCode` is the wire code. Its error code is
 * the server's status table read backwards (sftp/wire/status.ts).
 */
export class SftpStatusError extends FerryError {
  readonly sftpCode: number;
  constructor(sftpCode: number, message: string, what: string) {
    super(errorCodeForStatus(sftpCode, message), `${what}: ${message || `SFTP status ${sftpCode}`}`);
    this.sftpCode = sftpCode;
  }
}

export class SftpConnectionError extends FerryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IO', message, options);
  }
}

/** A reply: its packet type and a reader positioned after the request id. */
export interface SftpReply {
  readonly type: number;
  readonly reader: PacketReader;
}

/** Writes a request's fields after its id. */
export type RequestFields = (writer: PacketWriter) => unknown;

interface Pending {
  readonly what: string;
  resolve(reply: SftpReply): void;
  reject(err: Error): void;
}

/**
 * An ssh2 channel whose data can go to a function instead of the stream (patches/ssh2: called on the socket read's
 * call stack, with payloads that may lie in memory read into again next).
 */
type SinkChannel = Duplex & { ferryDataSink: ((data: Buffer) => void) | null };

function hasDataSink(channel: Duplex): channel is SinkChannel {
  return 'ferryDataSink' in channel;
}

/** Request ids in flight → their callers; the first failure (channel lost, bad reply) fails them all. */
export class SftpRequestChannel {
  readonly #channel: Duplex;
  readonly #framer = new PacketFramer(MAX_INCOMING_PACKET);
  /** The replies' buffers when the channel hands data to a sink (they are copied there); see releaseData. */
  readonly #buffers: ReplyBuffers | undefined;
  /** Channel payloads handed to the sink so far (socket-reads.ts checks each read's packets went there). */
  #sunk = 0;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  /** Small request packets waiting for the end of this turn (see #write). */
  #small: Buffer[] = [];
  #smallBytes = 0;
  #closedError: Error | undefined;
  #onVersion: ((reader: PacketReader) => void) | undefined;

  /** `pooledReplyBytes`: the largest reply copied into a reused buffer (a DATA of the largest READ). */
  constructor(channel: Duplex, pooledReplyBytes: number) {
    this.#channel = channel;
    if (hasDataSink(channel)) {
      const buffers = new ReplyBuffers(pooledReplyBytes);
      this.#buffers = buffers;
      const assembler = new ReplyAssembler(MAX_INCOMING_PACKET, buffers, (body) =>
        this.#dispatch(new PacketReader(body)),
      );
      channel.ferryDataSink = (data) => {
        this.#sunk++;
        // A failure must not reach ssh2's parser, which runs this: it would end the whole connection.
        try {
          assembler.push(data);
        } catch (err) {
          this.#fail(err instanceof Error ? err : new ProtocolError(String(err)));
          channel.destroy();
        }
      };
    }
    // Flowing, so the stream reports its end; with a sink no data arrives here.
    channel.on('data', (chunk: Buffer) => this.#receive(chunk));
    channel.on('error', (err: Error) => this.#fail(new SftpConnectionError(`SFTP channel: ${err.message}`)));
    channel.on('close', () => this.#fail(new SftpConnectionError('connection lost')));
    channel.on('end', () => this.#fail(new SftpConnectionError('connection lost')));
  }

  /** Sends INIT and returns the extensions the server's VERSION offers (name → version). */
  async init(): Promise<Map<string, string>> {
    const version = await new Promise<PacketReader>((resolve, reject) => {
      this.#onVersion = resolve;
      this.#pending.set(-1, { what: 'init', resolve: () => {}, reject });
      this.#channel.write(new PacketWriter(FXP.INIT).uint32(SFTP_VERSION).finish());
    }).finally(() => this.#pending.delete(-1));
    if (version.uint32() < SFTP_VERSION)
      throw new ProtocolError('the server speaks an SFTP version older than 3');
    const extensions = new Map<string, string>();
    while (version.remaining > 0) extensions.set(version.utf8(), version.utf8());
    return extensions;
  }

  /** Channel payloads handed to the data sink so far (0 without one). */
  get payloadsReceived(): number {
    return this.#sunk;
  }

  /**
   * Gives the buffers under a DATA reply's slices back for the next replies (with a data sink; otherwise a no-op).
   * The caller holds no view of them any more: a file backend that keeps bytes after its write copied them.
   */
  releaseData(slices: readonly Buffer[]): void {
    this.#buffers?.release(slices);
  }

  /** True while the channel's buffer is full; await drained() before queueing more writes. */
  get congested(): boolean {
    return this.#channel.writableNeedDrain;
  }

  drained(): Promise<void> {
    if (!this.#channel.writableNeedDrain || this.#closedError) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#channel.off('drain', done);
        this.#channel.off('close', done);
        resolve();
      };
      this.#channel.on('drain', done);
      this.#channel.on('close', done);
    });
  }

  end(): void {
    this.#flushSmall();
    this.#channel.end();
  }

  #fail(err: Error): void {
    if (this.#closedError) return;
    this.#closedError = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  #receive(chunk: Buffer): void {
    this.#framer.push(chunk);
    try {
      for (let packet = this.#framer.nextPacket(); packet !== null; packet = this.#framer.nextPacket()) {
        this.#dispatch(new PacketReader(packet));
      }
    } catch (err) {
      this.#fail(err instanceof Error ? err : new ProtocolError(String(err)));
      this.#channel.destroy();
    }
  }

  #dispatch(reader: PacketReader): void {
    const type = reader.uint8();
    if (type === FXP.VERSION) {
      const onVersion = this.#onVersion;
      this.#onVersion = undefined;
      if (!onVersion) throw new ProtocolError('unexpected SFTP VERSION');
      onVersion(reader);
      return;
    }
    const id = reader.uint32();
    const pending = this.#pending.get(id);
    if (!pending) throw new ProtocolError(`SFTP reply to unknown request ${id}`);
    this.#pending.delete(id);
    pending.resolve({ type, reader });
  }

  /** Sends one request; `sizeHint` (bytes after the id) spares the writer regrowing for WRITE data. */
  send(what: string, type: number, fields: RequestFields, sizeHint?: number): Promise<SftpReply> {
    return this.sendEncoded(what, (id) => {
      const writer = new PacketWriter(type, sizeHint === undefined ? undefined : sizeHint + 4).uint32(id);
      fields(writer);
      return writer.finish();
    });
  }

  /**
   * Sends the request `encode` builds around the id it is given: a packet made in place (a WRITE whose data was read
   * from disk behind its header) goes out without being copied into a new one first.
   */
  sendEncoded(what: string, encode: (id: number) => Buffer): Promise<SftpReply> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0;
    const packet = encode(id);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { what, resolve, reject });
      this.#write(packet);
    });
  }

  /**
   * Small requests sent in one turn of the event loop (a download's READs, refilled in batches) leave as one
   * channel write: one SSH packet and one socket write instead of one each (a `write` system call per READ was a
   * quarter of the client's CPU in a 1 GiB download). Larger packets go out at once, after those waiting.
   */
  #write(packet: Buffer): void {
    if (packet.length > COALESCE_BYTES) {
      this.#flushSmall();
      this.#channel.write(packet);
      return;
    }
    this.#small.push(packet);
    this.#smallBytes += packet.length;
    if (this.#smallBytes >= COALESCE_BYTES) this.#flushSmall();
    else if (this.#small.length === 1) queueMicrotask(this.#flushSmallTask);
  }

  readonly #flushSmallTask = (): void => this.#flushSmall();

  #flushSmall(): void {
    if (this.#small.length === 0) return;
    const packets = this.#small;
    this.#small = [];
    this.#smallBytes = 0;
    if (this.#closedError) return;
    this.#channel.write(packets.length === 1 ? packets[0]! : Buffer.concat(packets));
  }

  /** A request answered by a STATUS: OK returns, anything else throws. */
  async expectStatus(what: string, type: number, fields: RequestFields, sizeHint?: number): Promise<void> {
    statusOrThrow(await this.send(what, type, fields, sizeHint), what, false);
  }

  /** sendEncoded's request answered by a STATUS: OK returns, anything else throws. */
  async expectStatusEncoded(what: string, encode: (id: number) => Buffer): Promise<void> {
    statusOrThrow(await this.sendEncoded(what, encode), what, false);
  }

  /** A request answered by a `want` packet (its reader is returned) or by a failing STATUS. */
  async expect(what: string, want: number, type: number, fields: RequestFields): Promise<PacketReader> {
    const reply = await this.send(what, type, fields);
    if (reply.type === want) return reply.reader;
    statusOrThrow(reply, what, false);
    throw new ProtocolError(`${what}: OK status where data was expected`);
  }

  /** An extension answered by EXTENDED_REPLY. */
  extended(name: string, fields: RequestFields): Promise<PacketReader> {
    return this.expect(name, FXP.EXTENDED_REPLY, FXP.EXTENDED, (w) => fields(w.string(name)));
  }

  /** An extension answered by a STATUS (posix-rename, fsync). */
  extendedStatus(name: string, what: string, fields: RequestFields): Promise<void> {
    return this.expectStatus(what, FXP.EXTENDED, (w) => fields(w.string(name)));
  }
}

/** OK (or EOF when allowed) returns; any other status throws; any other type is a protocol error. */
export function statusOrThrow(reply: SftpReply, what: string, eofOk: boolean): 'ok' | 'eof' {
  const { type, reader } = reply;
  if (type !== FXP.STATUS) throw new ProtocolError(`${what}: unexpected SFTP reply type ${type}`);
  const code = reader.uint32();
  const message = reader.remaining >= 4 ? reader.utf8() : '';
  if (code === FX.OK) return 'ok';
  if (code === FX.EOF && eofOk) return 'eof';
  throw new SftpStatusError(code, message, what);
}
