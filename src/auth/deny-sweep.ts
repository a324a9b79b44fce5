// A deny-list entry ends the open connections it covers. The defender's verdict is asked when a connection
// starts, so an address denied while logged in (the administrator's answer to a partner caught misbehaving)
// kept its sessions until they ended on their own. Each serving process now checks its own connections
// against the lists a few times a minute and ends those on the deny list, saying so in its log and events.
import type { Logger } from '../logger.js';
import { type DefenderLists, matchesCidrs } from './defender-lists.js';

/** An open connection as the sweep needs it (api/live-sessions.ts's LiveSession has these fields). */
export interface SweptSession {
  readonly id: string;
  readonly remoteAddress: string;
  readonly username: string | null;
}

export interface DenySweepOptions {
  readonly lists: DefenderLists;
  /** This process's open connections (SSH and FTPS). */
  readonly sessions: () => readonly SweptSession[];
  /** Ends one; false when this process no longer holds it. */
  readonly disconnect: (sessionId: string) => boolean;
  /** Told of each connection ended (the server emits its security event). */
  readonly ended: (session: SweptSession) => void;
  readonly log: Logger;
  /** How often the lists are compared with the connections (default 2000 ms). */
  readonly everyMs?: number;
}

/** One pass: ends every open connection whose address is on the deny list; returns how many it ended. */
export async function sweepDenied(options: Omit<DenySweepOptions, 'everyMs'>): Promise<number> {
  const sessions = options.sessions();
  if (sessions.length === 0) return 0;
  const { deny } = await options.lists.current();
  let ended = 0;
  for (const session of sessions) {
    if (!session.remoteAddress || !matchesCidrs(deny, session.remoteAddress)) continue;
    if (!options.disconnect(session.id)) continue;
    ended++;
    options.log.warn(
      { sessionId: session.id, remoteAddress: session.remoteAddress, user: session.username },
      'connection ended: its address is on the deny list',
    );
    options.ended(session);
  }
  return ended;
}

/** Sweeps every `everyMs` until the returned function is called; a failed read of the lists is logged and retried. */
export function startDenySweep(options: DenySweepOptions): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepDenied(options)
      .catch((err: unknown) => options.log.error({ err }, 'deny list check of open connections failed'))
      .finally(() => {
        running = false;
      });
  }, options.everyMs ?? 2000);
  timer.unref();
  return () => clearInterval(timer);
}
