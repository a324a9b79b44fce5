// Ferry's client reads its socket into one reused buffer once its SFTP session is up. Node allocates a new 64 KiB
// buffer for every read otherwise, and V8 counts that memory until a collection: a gibibyte downloaded set off
// ~20 full garbage collections ("external memory pressure"), a tenth of the client's CPU (docs/PERFORMANCE.md).
//
// A buffer is read into again only when nothing can still hold a view of it. ssh2 decrypts a packet that lies
// whole in one read in place and hands its payload on; the SFTP channel's data sink copies it out at once
// (patches/ssh2, sftp-channel.ts), and the deciphers audited here copy a packet that waits for its next part. Any
// other packet (a key re-exchange, a global request, another channel's data) may be kept as a view by ssh2, so a
// read that held one retires its buffer: the next read gets a new one, and the old is left to the collector.
import type { OnReadOpts, Socket } from 'node:net';

/** Bytes per read once reused: eight 32 KiB packets, so few span two reads (each such is copied by ssh2). */
const READ_BYTES = 256 * 1024;
/** Bytes per read before that (new memory each, as Node's own reads). */
const FRESH_READ_BYTES = 64 * 1024;
/** ssh2's deciphers that keep no view of a read once they return (patches/ssh2, `holdPacket`). */
const AUDITED_DECIPHERS = new Set(['AESGCMDecipherBinding', 'ChaChaPolyDecipherBinding']);

/** What is read of ssh2's protocol object: its current decipher and the sequence number of the next packet. */
interface Ssh2Protocol {
  readonly _decipher?: { readonly inSeqno: number; readonly constructor: { readonly name: string } };
}

/** How the reads went (tests: a download reads into its one buffer almost always). */
export interface SocketReadStats {
  reads: number;
  /** Reads into the reused buffer. */
  reused: number;
  /** Reused buffers given up because a read held a packet other than the sink's. */
  retired: number;
}

export class SocketReads {
  readonly stats: SocketReadStats = { reads: 0, reused: 0, retired: 0 };
  #socket: Socket | undefined;
  #protocol: Ssh2Protocol | undefined;
  /** Channel payloads the data sink received so far; undefined until arm(). */
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
   * Starts reusing: `protocol` is ssh2's (client._protocol), `sunk` counts the SFTP channel's payloads taken by
   * its sink. Call once the session is up: handshake and login packets are kept as views by ssh2.
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
        ? Buffer.allocUnsafeSlow(READ_BYTES)
        : undefined;
  }

  #deliver(bytes: number, buffer: Buffer): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.stats.reads++;
    const data = buffer.subarray(0, bytes);
    if (buffer !== this.#reusable) {
      socket.emit('data', data);
      return;
    }
    this.stats.reused++;
    const decipher = this.#protocol?._decipher;
    const seqno = decipher?.inSeqno ?? 0;
    const sunk = this.#sunk!();
    socket.emit('data', data);
    // Every packet completed in this read went to the sink, or the buffer is not read into again.
    const now = this.#protocol?._decipher;
    const packets = now === decipher && now !== undefined ? (now.inSeqno - seqno) >>> 0 : -1;
    if (packets !== this.#sunk!() - sunk) {
      this.stats.retired++;
      this.#renew();
    }
  }
}
