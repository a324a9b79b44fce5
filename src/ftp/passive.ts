// The passive data connection: a listener on one port of the configured range that takes exactly one connection,
// from the control connection's address only, and upgrades it to TLS with the control connection's context. The
// data connection must resume the control connection's TLS session: the context's ticket keys belong to this
// control connection alone, so a resumed session proves the data connection comes from the same client (the
// data-channel hijack defence of vsftpd's require_ssl_reuse).
import { createServer, type Server, type Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import { normalizeAddress } from '../auth/defender.js';
import { FtpReplyError } from './replies.js';
import { remember, TransportStream } from './transport.js';

export interface PassiveOptions {
  /** Address to listen on: the control connection's local address. */
  readonly host: string;
  /** Inclusive range; [0, 0] picks any free port. */
  readonly ports: readonly [number, number];
  /** Only connections from this address are accepted (the control connection's peer). */
  readonly peer: string;
  readonly secureContext: SecureContext;
  /** Milliseconds to wait for the client to connect and finish its TLS handshake. */
  readonly timeoutMs: number;
  /** Called for each refused connection with a reason (logged, scored by the defender). */
  readonly refused: (reason: string, address: string) => void;
}

async function listenInRange(host: string, [low, high]: readonly [number, number]): Promise<Server> {
  const tryPort = (port: number) =>
    new Promise<Server | undefined>((resolve, reject) => {
      const server = createServer({
        noDelay: true,
        // The TCP side must stay writable after the client's FIN: its close_notify is answered with ours.
        allowHalfOpen: true,
      });
      server.once('error', (err: NodeJS.ErrnoException) =>
        err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
      );
      server.listen({ host, port, exclusive: true }, () => resolve(server));
    });
  if (low === 0) return (await tryPort(0))!;
  const span = high - low + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const server = await tryPort(low + ((start + i) % span));
    if (server) return server;
  }
  throw new FtpReplyError(425, 'No passive port free; try again later');
}

/** One PASV/EPSV offer: its port, and the TLS data socket once a valid client connects. */
export class PassiveListener {
  readonly #server: Server;
  readonly #options: PassiveOptions;
  #accepted: Promise<TLSSocket> | undefined;
  #closed = false;

  private constructor(server: Server, options: PassiveOptions) {
    this.#server = server;
    this.#options = options;
  }

  static async open(options: PassiveOptions): Promise<PassiveListener> {
    const server = await listenInRange(options.host, options.ports);
    const listener = new PassiveListener(server, options);
    listener.#accepted = listener.#accept();
    // Nobody awaits the promise until a transfer command comes; a failure then is reported there.
    listener.#accepted.catch(() => {});
    return listener;
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** The TLS data connection; rejects with a 425 reply when none came in time or it was not acceptable. */
  connection(): Promise<TLSSocket> {
    return this.#accepted!;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
  }

  #accept(): Promise<TLSSocket> {
    const { peer, timeoutMs, refused } = this.#options;
    return new Promise<TLSSocket>((resolve, reject) => {
      let pending: Socket | undefined;
      const timer = setTimeout(() => {
        this.close();
        pending?.destroy();
        reject(new FtpReplyError(425, 'Data connection timed out'));
      }, timeoutMs);
      timer.unref();
      this.#server.on('connection', (socket: Socket) => {
        const address = normalizeAddress(socket.remoteAddress ?? '');
        if (address !== peer) {
          refused('data connection from another address', address);
          socket.destroy();
          return;
        }
        // One connection per offer: the listener closes as soon as the right peer connected.
        this.close();
        socket.setNoDelay(true);
        pending = socket;
        this.#secure(socket).then(
          (tls) => {
            clearTimeout(timer);
            resolve(tls);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err);
          },
        );
      });
    });
  }

  #secure(socket: Socket): Promise<TLSSocket> {
    const { secureContext, refused, peer } = this.#options;
    return new Promise((resolve, reject) => {
      const transport = new TransportStream(socket);
      const tls = remember(new TLSSocket(transport, { isServer: true, secureContext }), transport);
      const fail = (reason: string) => {
        tls.destroy();
        reject(new FtpReplyError(425, reason));
      };
      tls.once('error', () => fail('TLS handshake of the data connection failed'));
      tls.once('secure', () => {
        // From here on the transfer watches the socket; a late error must not go unhandled.
        tls.removeAllListeners('error');
        tls.on('error', () => {});
        if (!tls.isSessionReused()) {
          refused('data connection did not resume the TLS session', peer);
          fail('Data connection must resume the TLS session of the control connection');
          return;
        }
        resolve(tls);
      });
    });
  }
}
