// Cluster mode's sessions and upload claims: this process records its logged-in SSH and FTPS sessions in the store (where every node counts a
// user's sessions against maxSessionsPerUser and lists them), publishes their counters, and ends the ones another
// node asked to kill (woken by NOTIFY on PostgreSQL, found by polling on every heartbeat either way); and claims
// the partials it writes, so no two nodes write one partial on shared storage.
import { FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ProcessRef, SessionCounters, SharedSession, Store } from '../store/types.js';
import type { KilledSession } from './sessions.js';

/** The NOTIFY channel of kill requests; the payload is the node id that holds the session. */
export const SESSION_KILL_CHANNEL = 'ferry_session_kill';
/** How long a kill request waits for the owning node to end the session. */
const KILL_WAIT_MS = 10_000;
const KILL_POLL_MS = 100;

/** A session as the SSH or FTPS server admits it. */
export interface AdmittedSession {
  readonly id: string;
  readonly username: string;
  readonly remoteAddress: string;
  readonly client: string | null;
  readonly connectedAt: Date;
  /** 'ssh' unless given ('ftps'). */
  readonly protocol?: string;
}

export interface ClusterSessionsOptions {
  readonly store: Pick<Store, 'liveSessions' | 'uploadClaims' | 'notifications'>;
  /** maxSessionsPerUser: logged-in sessions of one user at once, on all nodes together. */
  readonly limit: number;
  readonly log: Logger;
}

/** What a serving process hands over once its SSH server runs. */
export interface ClusterSessionsAttachment {
  readonly owner: ProcessRef;
  /** Ends a connection this process holds; false when it holds none with this id. */
  readonly disconnect: (id: string) => boolean;
  /** This process' sessions' counters now. */
  readonly counters: () => readonly SessionCounters[];
  readonly heartbeatMs: number;
}

export class ClusterSessions {
  readonly #o: ClusterSessionsOptions;
  #attached: ClusterSessionsAttachment | undefined;
  /** What was last published per session, so a tick writes only what changed. */
  readonly #published = new Map<string, string>();
  /** Sessions this process recorded (admitted, not yet closed). */
  readonly #recorded = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #unlisten: (() => Promise<void>) | undefined;

  constructor(options: ClusterSessionsOptions) {
    this.#o = options;
  }

  /** Starts recording (admissions before this count only in the process): sweeps this process' old rows first. */
  async attach(a: ClusterSessionsAttachment): Promise<void> {
    await this.#o.store.liveSessions.sweep(new Date(), a.owner);
    await this.#o.store.uploadClaims.sweep(new Date(), a.owner);
    this.#attached = a;
    this.#timer = setInterval(() => this.tick(), a.heartbeatMs);
    this.#timer.unref();
    const notifications = this.#o.store.notifications;
    if (notifications) {
      this.#unlisten = await notifications.listen(SESSION_KILL_CHANNEL, (nodeId) => {
        if (nodeId === a.owner.nodeId) this.tick();
      });
    }
  }

  /**
   * Records a logged-in session unless its user already has `limit` on all nodes together; resolves with their
   * number when refused. A store that cannot be asked refuses (the error is thrown): the limit must hold.
   */
  async admit(s: AdmittedSession): Promise<{ open: number } | undefined> {
    const a = this.#attached;
    if (!a) return undefined;
    const refused = await this.#o.store.liveSessions.open(
      {
        ...a.owner,
        ...s,
        protocol: s.protocol ?? 'ssh',
        bytesUp: 0,
        bytesDown: 0,
        filesUp: 0,
        filesDown: 0,
      },
      this.#o.limit,
      new Date(),
    );
    if (!refused) this.#recorded.add(s.id);
    return refused;
  }

  /** The session ended: its row goes (a failure is only logged; the row lapses with this process anyway). */
  closed(id: string): void {
    if (!this.#recorded.delete(id)) return;
    this.#published.delete(id);
    this.#o.store.liveSessions
      .close(id)
      .catch((err: unknown) => this.#o.log.warn({ err, sessionId: id }, 'live session row not removed'));
  }

  /** Publishes changed counters, ends sessions another node asked to kill, sweeps dead processes' rows. */
  tick(): void {
    if (this.#ticking || !this.#attached) return;
    const a = this.#attached;
    this.#ticking = this.#tick(a)
      .catch((err: unknown) => this.#o.log.warn({ err }, 'cluster session update failed'))
      .finally(() => {
        this.#ticking = undefined;
      });
  }

  async #tick(a: ClusterSessionsAttachment): Promise<void> {
    const repo = this.#o.store.liveSessions;
    for (const id of await repo.killRequests(a.owner)) {
      this.#o.log.info({ sessionId: id }, "session killed at another node's request");
      if (a.disconnect(id)) continue;
      // Not held here any more: its row is stale, so the requester stops waiting.
      this.#recorded.delete(id);
      this.#published.delete(id);
      await repo.close(id);
    }
    const changed = a.counters().filter((c) => {
      if (!this.#recorded.has(c.id)) return false;
      const text = JSON.stringify(c);
      if (this.#published.get(c.id) === text) return false;
      this.#published.set(c.id, text);
      return true;
    });
    if (changed.length > 0) await repo.update(changed);
    await repo.sweep(new Date());
    await this.#o.store.uploadClaims.sweep(new Date());
  }

  /**
   * Claims a partial on every node (core/upload-lock.ts' ClusterUploadClaims): false while another live process
   * holds it; one of a dead process is taken over. Before attach() only this process' own claim holds.
   */
  async claim(key: string): Promise<boolean> {
    const a = this.#attached;
    if (!a) return true;
    return (await this.#o.store.uploadClaims.claim(key, a.owner, new Date())) === undefined;
  }

  release(key: string): void {
    const a = this.#attached;
    if (!a) return;
    this.#o.store.uploadClaims
      .release(key, a.owner)
      .catch((err: unknown) =>
        this.#o.log.warn({ err, key }, 'upload claim not released; it lapses with this process'),
      );
  }

  /** Every node's logged-in sessions. */
  list(): Promise<SharedSession[]> {
    return this.#o.store.liveSessions.list(new Date());
  }

  /**
   * Asks the node holding a session to end it and waits until it has; undefined when no live node holds it.
   * Fails when the node does not end it in time (it stalled: its sessions lapse once it misses its heartbeats).
   */
  async kill(id: string): Promise<(KilledSession & { node: string }) | undefined> {
    const repo = this.#o.store.liveSessions;
    const session = await repo.get(id, new Date());
    if (!session || !(await repo.requestKill(id, new Date()))) return undefined;
    await this.#o.store.notifications?.notify(SESSION_KILL_CHANNEL, session.nodeId).catch((err: unknown) => {
      this.#o.log.warn(
        { err },
        'kill notification not sent; the owning node finds the request at its next heartbeat',
      );
    });
    const deadline = Date.now() + KILL_WAIT_MS;
    // The row itself, not its liveness: a node that only lags behind on heartbeats still holds the session.
    while (await repo.exists(id)) {
      if (Date.now() > deadline)
        throw new FerryError('ERR_IO', `node ${session.nodeId} did not end session ${id} in time`);
      await new Promise((resolve) => setTimeout(resolve, KILL_POLL_MS));
    }
    return {
      id,
      username: session.username,
      remoteAddress: session.remoteAddress,
      pid: session.pid,
      node: session.nodeId,
    };
  }

  /** Stops, removing this process' rows (its sessions end with it). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#unlisten?.();
    await this.#ticking;
    const a = this.#attached;
    this.#attached = undefined;
    this.#recorded.clear();
    if (!a) return;
    await this.#o.store.liveSessions.sweep(new Date(), a.owner);
    await this.#o.store.uploadClaims.sweep(new Date(), a.owner);
  }
}
