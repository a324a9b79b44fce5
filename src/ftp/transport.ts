// The TCP side of a TLS data connection, seen apart from the TLS layer. Node reports a TLS socket's 'end' both
// for the peer's close_notify and for a bare TCP FIN (a killed client, a truncation attack) and offers no public
// way to tell them apart. So the data socket runs TLS over this JS stream, which never passes the TCP end on:
// the TLS socket then ends only on a close_notify, and `transportEnded` says when the TCP side went away.
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

export class TransportStream extends Duplex {
  readonly #socket: Socket;
  /** Resolves once the TCP connection ended (FIN) or closed (reset, destroy). */
  readonly ended: Promise<void>;

  constructor(socket: Socket) {
    super({ allowHalfOpen: true });
    this.#socket = socket;
    this.ended = new Promise((resolve) => {
      socket.once('end', () => resolve());
      socket.once('close', () => resolve());
    });
    // Reset or destroyed: the TLS socket closes too, so a download to a vanished client stops at once. (The TCP
    // socket is half-open, so a FIN alone does not close it.)
    socket.once('close', () => this.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    // A read error shows up as 'close' too; TLS must not see it as an end either.
    socket.on('error', () => {});
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#socket.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  /** Ends the TCP connection with a reset: what the kernel still buffers for the peer is dropped, not sent. */
  reset(): void {
    this.#socket.resetAndDestroy();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#socket.destroy();
    callback(err);
  }
}

const transports = new WeakMap<TLSSocket, TransportStream>();

/** Records which transport a data connection's TLS socket runs over, for `transportEnded`. */
export function remember(tls: TLSSocket, transport: TransportStream): TLSSocket {
  transports.set(tls, transport);
  return tls;
}

/** The transport under a data connection's TLS socket. */
export function transportOf(tls: TLSSocket): TransportStream | undefined {
  return transports.get(tls);
}
