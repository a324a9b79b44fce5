// One socket write per turn of the event loop for a socket that ssh2 writes packet by packet.
import type { Socket } from 'node:net';

/*
 * Why: ssh2 writes every SSH packet (at most 32 KiB of channel data) with a socket write of its own, so a 255 KiB
 * SFTP WRITE became eight `write` system calls, and on loopback each one also runs the receiver's side of TCP and
 * wakes it: a third of the Ferry client's CPU in a 1 GiB upload (docs/PERFORMANCE.md). Corked for the rest of the
 * turn, the packets written in one go leave in one `writev`. Nothing waits longer than the current turn.
 * Used by Ferry's client only: on the server's sockets it cut a download's socket writes 18-fold and moved no
 * bench row (the OpenSSH client limits them), so it was taken back there.
 */

/** Makes `socket` gather the writes of each turn of the event loop into one system call. */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked && !this.destroyed) {
      corked = true;
      this.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
