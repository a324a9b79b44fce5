// Server-initiated rekeying (RFC 4253 section 9: after a gigabyte or an hour): a new key exchange once either
// direction has carried `bytes` since the last one, or `seconds` have passed. Transfers in flight are not
// disturbed: ssh2 queues outgoing packets during the exchange and the client keeps sending.
import type { Socket } from 'node:net';
import type { Connection } from 'ssh2';
import type { Logger } from '../logger.js';

export interface RekeyPolicy {
  /** Bytes in either direction after which the server starts a key exchange; 0: never by volume. */
  readonly bytes: number;
  /** Seconds after which the server starts a key exchange; 0: never by time. */
  readonly seconds: number;
}

/** Watches one connection; returns the function that stops watching (on close). */
export function scheduleRekeys(
  client: Connection,
  socket: Socket,
  policy: RekeyPolicy,
  log: Logger,
): () => void {
  let baseRead = socket.bytesRead;
  let baseWritten = socket.bytesWritten;
  let pending = false;
  let timer: NodeJS.Timeout | undefined;

  const start = (reason: 'bytes' | 'time') => {
    if (pending || socket.destroyed) return;
    pending = true;
    log.info(
      { reason, bytesIn: socket.bytesRead - baseRead, bytesOut: socket.bytesWritten - baseWritten },
      'server-initiated rekey',
    );
    // ssh2 ignores this while an exchange (one the client started) is running; the 'handshake' below resets us.
    client.rekey();
  };
  const arm = () => {
    if (timer) clearTimeout(timer);
    if (policy.seconds > 0) {
      timer = setTimeout(() => start('time'), policy.seconds * 1000);
      timer.unref();
    }
  };
  // Every completed exchange, whoever started it, counts as the fresh start.
  const onHandshake = () => {
    pending = false;
    baseRead = socket.bytesRead;
    baseWritten = socket.bytesWritten;
    arm();
  };
  // Checked as data arrives: the client sends requests (or data) throughout any transfer, in both directions,
  // so a download's written bytes are seen as soon as its next read requests come in.
  const onData = () => {
    if (
      policy.bytes > 0 &&
      (socket.bytesRead - baseRead >= policy.bytes || socket.bytesWritten - baseWritten >= policy.bytes)
    )
      start('bytes');
  };
  client.on('handshake', onHandshake);
  if (policy.bytes > 0) socket.on('data', onData);
  arm();
  return () => {
    if (timer) clearTimeout(timer);
    client.off('handshake', onHandshake);
    socket.off('data', onData);
  };
}
