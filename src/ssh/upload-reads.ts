// A connection's socket read into one reused buffer from its first large upload on (util/socket-reads.ts): the
// SFTP channels' data sinks count what they take, which tells the reads when a buffer may be read into again.
import type { Socket } from 'node:net';
import type { Connection } from 'ssh2';
import type { BudgetAccount } from '../core/types.js';
import { REUSED_READ_BYTES, type SinkTap, type SocketReadStats, SocketReads } from '../util/socket-reads.js';

/**
 * Room the connection's account must have left before its read buffer is taken from it. The buffer stays taken
 * until the connection ends, so it must never be what a session's own requests wait on: after taking it, at
 * least three times its size is left for the sessions (a WRITE and a READ's reply of 255 KiB each).
 */
const HEADROOM_BYTES = 4 * REUSED_READ_BYTES;

export interface UploadReads extends SinkTap {
  /** Undefined until the socket was adopted. */
  readonly stats: SocketReadStats | undefined;
}

/**
 * Adopts `socket` when a session on it starts uploading, not at login: a reused buffer is held per connection
 * (256 KiB), and most sessions (listings, downloads, idle partners) would hold it for nothing. The buffer counts
 * against `account` (the connection's buffered bytes, limited per connection and per user, like the SFTP
 * requests' own): a user's many uploading connections hold no more than the user's limit. Without room, or while
 * the socket cannot be adopted (paused, data waiting), the connection keeps Node's reads and the next large
 * WRITE tries again.
 */
export function uploadReads(client: Connection, socket: Socket, account?: BudgetAccount): UploadReads {
  let sunk = 0;
  let reads: SocketReads | undefined;
  return {
    sunk: () => {
      sunk++;
    },
    bulk: () => {
      if (reads !== undefined) return;
      // fits() first: a refused tryTake would sign the account up for wake-ups the sessions listen to.
      if (account !== undefined && !account.fits(HEADROOM_BYTES)) return;
      if (account !== undefined && !account.tryTake(REUSED_READ_BYTES)) return;
      const adopting = new SocketReads();
      if (!adopting.adopt(socket)) {
        account?.give(REUSED_READ_BYTES);
        return;
      }
      // ssh2's server-side connection keeps its protocol object here, as the client does. The account gives
      // the buffer back with everything else when the connection ends (ssh/connection.ts).
      adopting.arm((client as unknown as { _protocol: unknown })._protocol, () => sunk);
      reads = adopting;
    },
    get stats() {
      return reads?.stats;
    },
  };
}
