// An SSH connection's socket read into one reused buffer while its SFTP channels take the data. Node allocates a
// new 64 KiB buffer for every read otherwise, and V8 counts that memory until a collection: receiving a gibibyte
// that way cost ~0.5 s of CPU more than reading into one buffer (a bare TCP receiver, docs/PERFORMANCE.md), and
// set off ~20 full garbage collections in Ferry's client.
//
// A buffer is read into again only when nothing can still hold a view of it. ssh2 decrypts a packet that lies
// whole in one read in place and hands its payload on; an SFTP channel's data sink copies it out at once
// (patches/ssh2: `Channel.ferryDataSink`; the client's transfers/sftp-channel.ts, the server's
// sftp/channel-input.ts), and the deciphers audited here copy a packet that waits for its next part. Any other
// packet (a key re-exchange, a global request, another channel's data) may be kept as a view by ssh2, so a read
// that held one retires its buffer: later reads get new memory each, as Node's own do, until one holds sink
// packets only again.
//
// Used by both ends: Ferry's client connects with `onread`; the server adopts a socket it accepted (Node has no
// `onread` for those), once an upload starts, so idle sessions hold no buffer of their own.
import { type OnReadOpts, Socket, type SocketConstructorOpts } from 'node:net';

/** Bytes per read once reused: eight 32 KiB packets, so few span two reads (each such is copied by ssh2). */
export const REUSED_READ_BYTES = 256 * 1024;
/** Bytes per read otherwise (new memory each, as Node's own reads). */
const FRESH_READ_BYTES = 64 * 1024;
/** ssh2's deciphers that keep no view of a read once they return (patches/ssh2, `holdPacket`). */
const AUDITED_DECIPHERS = new Set(['AESGCMDecipherBinding', 'ChaChaPolyDecipherBinding']);

/** What is read of ssh2's protocol object: its current decipher and the sequence number of the next packet. */
interface Ssh2Protocol {
  readonly _decipher?: { readonly inSeqno: number; readonly constructor: { readonly name: string } };
}

/** How the reads went (tests: an upload or download reads into its one buffer almost always). */
export interface SocketReadStats {
  reads: number;
  /** Reads into the reused buffer. */
  reused: number;
  /** Reused buffers given up because a read held a packet other than the sink's. */
  retired: number;
}

/** The internal fields behind net.Socket's `onread` option (Node 12 and later), found on a probe socket. */
interface UserBufferFields {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

let userBufferFields: UserBufferFields | null | undefined;

function findUserBufferFields(): UserBufferFields | null {
  if (userBufferFields !== undefined) return userBufferFields;
  // @types/node lists `onread` for net.connect only; the constructor takes it as well (net.js).
  const probe = new Socket({
    onread: { buffer: () => Buffer.alloc(1), callback: () => true },
  } as SocketConstructorOpts);
  const symbols = Object.getOwnPropertySymbols(probe);
  const named = (description: string) => symbols.filter((s) => s.description === description);
  const [buffer, callback, generator] = [named('kBuffer'), named('kBufferCb'), named('kBufferGen')];
  const record = probe as unknown as Record<symbol, unknown>;
  // Exactly one of each, holding what the option set: anything else is a Node this was not written for.
  userBufferFields =
    buffer.length === 1 &&
    callback.length === 1 &&
    generator.length === 1 &&
    typeof record[callback[0]!] === 'function' &&
    typeof record[generator[0]!] === 'function'
      ? { buffer: buffer[0]!, callback: callback[0]!, generator: generator[0]! }
      : null;
  probe.destroy();
  return userBufferFields;
}

export class SocketReads {
  readonly stats: SocketReadStats = { reads: 0, reused: 0, retired: 0 };
  #socket: Socket | undefined;
  #protocol: Ssh2Protocol | undefined;
  /** Channel payloads the data sinks received so far; undefined until arm(). */
  #sunk: (() => number) | undefined;
  #reusable: Buffer | undefined;

  /** net.connect's `onread`: the socket's data still reaches its 'data' listeners (ssh2), as views. */
  readonly onread: OnReadOpts = {
    buffer: () => this.#reusable ?? Buffer.allocUnsafe(FRESH_READ_BYTES),
    // true: reading goes on (ssh2 pauses the socket itself when it must).
    callback: (bytes, buffer) => {
      this.#deliver(bytes, buffer as Buffer);
      return true;
    },
  };

  /** The socket net.connect returned with `onread`. */
  attach(socket: Socket): void {
    this.#socket = socket;
  }

  /**
   * Makes an accepted socket read through `onread` from its next read on. False (nothing changed) when this Node
   * does not have the fields behind the option, or the socket is not flowing with nothing buffered: data already
   * in the stream's buffer would reach the listeners after data read later.
   */
  adopt(socket: Socket): boolean {
    const fields = findUserBufferFields();
    const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })
      ._handle;
    if (
      fields === null ||
      typeof handle?.useUserBuffer !== 'function' ||
      socket.destroyed ||
      socket.readableLength > 0 ||
      socket.readableFlowing !== true
    )
      return false;
    const first = (this.onread.buffer as () => Buffer)();
    const record = socket as unknown as Record<symbol, unknown>;
    record[fields.buffer] = first;
    record[fields.generator] = this.onread.buffer;
    record[fields.callback] = this.onread.callback;
    handle.useUserBuffer(first);
    this.#socket = socket;
    return true;
  }

  /**
   * Starts reusing: `protocol` is ssh2's (`client._protocol`, either end), `sunk` counts the payloads the SFTP
   * channels' sinks took. Call once the session is up: handshake and login packets are kept as views by ssh2.
   */
  arm(protocol: unknown, sunk: () => number): void {
    this.#protocol = protocol as Ssh2Protocol;
    this.#sunk = sunk;
    this.#renew();
  }

  #renew(): void {
    const decipher = this.#protocol?._decipher;
    this.#reusable =
      this.#sunk !== undefined && decipher !== undefined && AUDITED_DECIPHERS.has(decipher.constructor.name)
        ? Buffer.allocUnsafeSlow(REUSED_READ_BYTES)
        : undefined;
  }

  #deliver(bytes: number, buffer: Buffer): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.stats.reads++;
    const data = buffer.subarray(0, bytes);
    if (this.#sunk === undefined) {
      socket.emit('data', data);
      return;
    }
    const reused = buffer === this.#reusable;
    if (reused) this.stats.reused++;
    const decipher = this.#protocol?._decipher;
    const seqno = decipher?.inSeqno ?? 0;
    const sunk = this.#sunk();
    socket.emit('data', data);
    // Every packet completed in this read went to a sink, or the buffer is not read into again.
    const now = this.#protocol?._decipher;
    const packets = now === decipher && now !== undefined ? (now.inSeqno - seqno) >>> 0 : -1;
    const clean = packets === this.#sunk() - sunk;
    if (reused && !clean) {
      this.stats.retired++;
      this.#reusable = undefined;
    } else if (!reused && clean && this.#reusable === undefined) {
      // A read into new memory that held sink packets only: the exchange or the other channel is over.
      this.#renew();
    }
  }
}

/** What an SFTP channel's data sink tells its connection's reads (the server's side). */
export interface SinkTap {
  /** A channel payload was taken by a sink (copied out before it returned). */
  sunk(): void;
  /** A large WRITE is arriving: the connection is uploading, worth reading into one buffer (called per WRITE). */
  bulk(): void;
}
