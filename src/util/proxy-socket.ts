// Takes the PROXY protocol header off an accepted socket before the real protocol's parser sees it, and makes the
// socket report the client's address from then on, so every consumer (admission, defender, audit, events, logs)
// sees the same address without being told about proxies.
import type { Socket } from 'node:net';
import { type ProxyAddress, parseProxyHeader, V2_SIGNATURE } from './proxy-protocol.js';

/** The most a header may take: v2's fixed part plus its largest length field. Past this, nothing is buffered. */
const MAX_HEADER_BYTES = V2_SIGNATURE.length + 4 + 0xffff;

export class ProxyHeaderError extends Error {
  /** True when the peer sent nothing at all before closing: a load balancer's plain TCP health check. */
  readonly silent: boolean;
  constructor(message: string, silent = false) {
    super(message);
    this.silent = silent;
  }
}

/**
 * Reads the header within `timeoutMs`, puts back what follows it and leaves the socket paused (the next reader
 * resumes it). Resolves with the client's address (undefined when the header carries none: v1 UNKNOWN, v2
 * LOCAL), rejects with a ProxyHeaderError on a bad or missing header; the caller closes the socket then.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyAddress | undefined> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, source?: ProxyAddress, rest?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (error) return reject(error);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(source);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const parsed = parseProxyHeader(received);
      if (parsed.status === 'incomplete') {
        // The parser bounds what it waits for; this only guards against that bound being wrong.
        if (received.length > MAX_HEADER_BYTES) finish(new ProxyHeaderError('PROXY header too long'));
        return;
      }
      if (parsed.status === 'invalid') return finish(new ProxyHeaderError(parsed.reason));
      finish(undefined, parsed.source, received.subarray(parsed.length));
    };
    const onEnd = () =>
      finish(new ProxyHeaderError('connection closed before a complete PROXY header', received.length === 0));
    const timer = setTimeout(
      () => finish(new ProxyHeaderError(`no complete PROXY header within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/** From now on the socket reports `source` as its peer (node's getters read the kernel's, the proxy's, address). */
export function presentPeer(socket: Socket, source: ProxyAddress): void {
  const family = source.address.includes(':') ? 'IPv6' : 'IPv4';
  Object.defineProperty(socket, 'remoteAddress', { value: source.address, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: source.port, configurable: true });
  Object.defineProperty(socket, 'remoteFamily', { value: family, configurable: true });
}
