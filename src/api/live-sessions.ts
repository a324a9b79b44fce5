// The SSH and FTPS connections of this process, kept from the event bus (connect, login, transfers, disconnect), and
// what each one is transferring right now (asked of the front end that runs it).
import type { EventBus } from '../events/bus.js';
import { sessionProtocol } from '../events/session-protocol.js';
import type { FerryEvent } from '../events/types.js';

/** The file a connection is moving at this moment (FTPS: RETR, STOR, APPE, STOU; SFTP and SCP: open handles). */
export interface SessionActivity {
  readonly direction: 'upload' | 'download';
  readonly path: string;
  readonly bytes: number;
  readonly startedAt: Date;
}

export type SessionActivitySource = (sessionId: string) => SessionActivity | undefined;

export interface LiveSession {
  readonly id: string;
  readonly remoteAddress: string;
  /** 'ftps', or 'ssh' until a transfer or file operation shows which subsystem it uses ('sftp', 'scp'). */
  protocol: string;
  username: string | null;
  readonly client: string | null;
  readonly connectedAt: Date;
  bytesUp: number;
  bytesDown: number;
  filesUp: number;
  filesDown: number;
}

/** Bounded: a process never tracks more connections than it may hold (maxConnections), plus some slack. */
const MAX_TRACKED = 1_000_000;

export class LiveSessions {
  readonly #sessions = new Map<string, LiveSession>();
  readonly #unsubscribe: () => void;

  readonly #activity: SessionActivitySource | undefined;

  constructor(events: EventBus, activity?: SessionActivitySource) {
    this.#activity = activity;
    this.#unsubscribe = events.subscribe((event) => {
      this.#observe(event);
      return undefined;
    });
  }

  list(): LiveSession[] {
    return [...this.#sessions.values()];
  }

  /** The transfer a connection is running now; undefined when none (or its front end does not say). */
  activityOf(sessionId: string): SessionActivity | undefined {
    return this.#activity?.(sessionId);
  }

  /** Open connections by protocol. */
  countByProtocol(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.#sessions.values()) counts.set(s.protocol, (counts.get(s.protocol) ?? 0) + 1);
    return counts;
  }

  close(): void {
    this.#unsubscribe();
    this.#sessions.clear();
  }

  #observe(event: FerryEvent): void {
    if (event.type === 'session') {
      if (event.phase === 'connect' && this.#sessions.size < MAX_TRACKED) {
        const { client } = event.detail;
        this.#sessions.set(event.sessionId, {
          id: event.sessionId,
          remoteAddress: event.remoteAddress ?? '',
          protocol: sessionProtocol(event.detail),
          username: null,
          client: typeof client === 'string' ? client : null,
          connectedAt: event.at,
          bytesUp: 0,
          bytesDown: 0,
          filesUp: 0,
          filesDown: 0,
        });
      } else if (event.phase === 'auth') {
        const session = this.#sessions.get(event.sessionId);
        if (session && event.detail.result === 'accepted') session.username = event.username ?? null;
      } else if (event.phase === 'disconnect') {
        this.#sessions.delete(event.sessionId);
      }
      return;
    }
    if (event.type !== 'transfer' && event.type !== 'file-op') return;
    const session = this.#sessions.get(event.sessionId);
    if (!session) return;
    if (event.protocol !== 'rule') session.protocol = event.protocol;
    if (event.type === 'transfer') {
      if (event.direction === 'upload') {
        session.bytesUp += event.bytes;
        if (event.completed) session.filesUp++;
      } else {
        session.bytesDown += event.bytes;
        if (event.completed) session.filesDown++;
      }
    }
  }
}
