// How much of a client's SSH window a file channel leaves unused, and for how long.
//
// Why: OpenSSH's client reads its socket before it writes what it decrypted to its sftp process, so whatever the
// server has in flight beyond what sftp drains piles up in ssh's own buffers, where it is copied again (memmove)
// and goes cold in the cache. With the 2 MiB window it grants filled, its CPU per GiB downloaded was 1.2-1.6×
// what it was with at most 1.125 MiB in flight, and a download ran 1.3-1.5× faster with the smaller amount
// (docs/PERFORMANCE.md, stop 54). sshd paces itself by its loop (32 KiB per turn from sftp-server's pipe); ssh2
// writes all the window allows at once.
//
// The client asks for more window once less than half is left (OpenSSH, PuTTY, ssh2; paramiko sooner), so a
// channel keeps half the window plus a few packets in flight and holds the rest back. Two things would make that
// a loss, and each turns it off:
// - A long round trip, where the whole window is what keeps the link busy: only a channel whose client answered
//   its open within MAX_ROUND_TRIP_MS gets a reserve (1.125 MiB per 5 ms is still ~1.9 Gbit/s; OpenSSH's client
//   on loopback answers in ~1-1.5 ms here).
// - A client that returns window late or only once it is spent: data that waits on the reserve for
//   RESERVE_STALL_MS goes out within the whole window until the client has caught up, and after three such waits
//   in a row the channel uses the whole window for good (ssh2 patch, Channel.reserveWindow). A busy client on
//   loopback makes such a wait now and then (1-4 per 512 MiB here).
import type { ServerChannel } from 'ssh2';

/** Below this window, nothing is held back: a small window is already what a client wants in flight. */
const MIN_WINDOW = 1024 * 1024;
/** Packets in flight beyond half the window, so the client's request for more is already on its way. */
const SLACK_PACKETS = 4;
/** How long data may wait on the reserve before it goes out within the whole window. */
export const RESERVE_STALL_MS = 10;
/** The longest round trip (the channel's open confirmed to the client's first request on it) given a reserve. */
export const MAX_ROUND_TRIP_MS = 5;

interface ReservingChannel {
  readonly outgoing: { readonly window: number; readonly packetSize: number };
  reserveWindow(bytes: number, stallMs: number): void;
}

/** The bytes of a client's initial `window` to hold back on a channel with packets of up to `packetSize`. */
export function windowReserve(window: number, packetSize: number): number {
  if (window < MIN_WINDOW) return 0;
  return Math.max(0, Math.floor(window / 2) - SLACK_PACKETS * packetSize);
}

/**
 * Holds part of the client's window back on a channel that sends file data (SFTP, scp), when the client is near:
 * `roundTripMs` from the channel's open confirmed to the client's request for the subsystem or command.
 */
export function reserveFileChannelWindow(
  channel: ServerChannel,
  roundTripMs: number,
  onReleased?: () => void,
): void {
  if (roundTripMs > MAX_ROUND_TRIP_MS) return;
  const reserving = channel as unknown as ReservingChannel;
  const bytes = windowReserve(reserving.outgoing.window, reserving.outgoing.packetSize);
  if (bytes === 0) return;
  reserving.reserveWindow(bytes, RESERVE_STALL_MS);
  if (onReleased) channel.once('window-reserve-released', onReleased);
}
