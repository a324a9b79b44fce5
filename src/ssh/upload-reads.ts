// A connection's socket read into one reused buffer from its first large upload on (util/socket-reads.ts): the
// SFTP channels' data sinks count what they take, which tells the reads when a buffer may be read into again.
import type { Socket } from 'node:net';
import type { Connection } from 'ssh2';
import { type SinkTap, type SocketReadStats, SocketReads } from '../util/socket-reads.js';

export interface UploadReads extends SinkTap {
  /** Undefined until the socket was adopted. */
  readonly stats: SocketReadStats | undefined;
}

/**
 * Adopts `socket` when a session on it starts uploading, not at login: a reused buffer is held per connection
 * (256 KiB), and most sessions (listings, downloads, idle partners) would hold it for nothing.
 */
export function uploadReads(client: Connection, socket: Socket): UploadReads {
  let sunk = 0;
  let reads: SocketReads | undefined;
  let tried = false;
  return {
    sunk: () => {
      sunk++;
    },
    bulk: () => {
      if (tried) return;
      tried = true;
      const adopting = new SocketReads();
      if (!adopting.adopt(socket)) return;
      // ssh2's server-side connection keeps its protocol object here, as the client does.
      adopting.arm((client as unknown as { _protocol: unknown })._protocol, () => sunk);
      reads = adopting;
    },
    get stats() {
      return reads?.stats;
    },
  };
}
