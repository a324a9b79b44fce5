// Every node's logged-in sessions and upload claims over kysely; a row counts while its process heartbeats.
import type { Kysely, Selectable } from 'kysely';
import type {
  LiveSessionRepository,
  ProcessRef,
  SessionCounters,
  SessionRefusal,
  SharedSession,
  UploadClaimRepository,
} from './live-session-types.js';
import { heartbeatIsLive, SWEEP_AFTER_HEARTBEATS } from './node-types.js';
import type { Database, LiveSessionsTable } from './schema.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

/** Rows with their process' last heartbeat (null when the process has no registry row). */
type WithHeartbeat<T> = T & { heartbeat_at: string | null; heartbeat_ms: number | null };

const sameProcess = (a: ProcessRef, b: ProcessRef) =>
  a.nodeId === b.nodeId && a.runId === b.runId && a.pid === b.pid;

function refOf(row: { node_id: string; run_id: string; pid: number }): ProcessRef {
  return { nodeId: row.node_id, runId: row.run_id, pid: Number(row.pid) };
}

function isLive(row: WithHeartbeat<object>, now: Date, missed?: number): boolean {
  return (
    row.heartbeat_at !== null &&
    row.heartbeat_ms !== null &&
    heartbeatIsLive(new Date(row.heartbeat_at), Number(row.heartbeat_ms), now, missed)
  );
}

function toSession(row: Selectable<LiveSessionsTable>): SharedSession {
  return {
    ...refOf(row),
    id: row.session_id,
    username: row.username,
    remoteAddress: row.remote_address,
    protocol: row.protocol,
    client: row.client,
    connectedAt: new Date(row.connected_at),
    bytesUp: Number(row.bytes_up),
    bytesDown: Number(row.bytes_down),
    filesUp: Number(row.files_up),
    filesDown: Number(row.files_down),
    killRequestedAt: row.kill_requested_at ? new Date(row.kill_requested_at) : undefined,
  };
}

/** Sessions joined to their process' registry row, which tells whether it is live. */
function sessionsWithHeartbeats(db: Kysely<Database>) {
  return db
    .selectFrom('live_sessions')
    .leftJoin('nodes', (join) =>
      join
        .onRef('nodes.node_id', '=', 'live_sessions.node_id')
        .onRef('nodes.run_id', '=', 'live_sessions.run_id')
        .onRef('nodes.pid', '=', 'live_sessions.pid'),
    );
}

/** Claims joined to their process' registry row. */
function claimsWithHeartbeats(db: Kysely<Database>) {
  return db
    .selectFrom('upload_claims')
    .leftJoin('nodes', (join) =>
      join
        .onRef('nodes.node_id', '=', 'upload_claims.node_id')
        .onRef('nodes.run_id', '=', 'upload_claims.run_id')
        .onRef('nodes.pid', '=', 'upload_claims.pid'),
    );
}

export class KyselyLiveSessionRepository implements LiveSessionRepository {
  readonly #db: Kysely<Database>;
  /** Admission counts and inserts in one transaction that excludes other admissions (a table lock on PostgreSQL). */
  readonly #options: WriteTransactionOptions;

  constructor(db: Kysely<Database>, options: WriteTransactionOptions) {
    this.#db = db;
    this.#options = options;
  }

  async open(s: SharedSession, limit: number, now: Date): Promise<SessionRefusal | undefined> {
    return writeTransaction(this.#db, this.#options, async (trx) => {
      const rows = await sessionsWithHeartbeats(trx)
        .select([
          'live_sessions.node_id',
          'live_sessions.run_id',
          'live_sessions.pid',
          'nodes.heartbeat_at',
          'nodes.heartbeat_ms',
        ])
        .where('live_sessions.username', '=', s.username)
        .execute();
      const open = rows.filter((r) => sameProcess(refOf(r), s) || isLive(r, now)).length;
      if (open >= limit) return { open };
      await trx
        .insertInto('live_sessions')
        .values({
          session_id: s.id,
          node_id: s.nodeId,
          run_id: s.runId,
          pid: s.pid,
          username: s.username,
          remote_address: s.remoteAddress,
          protocol: s.protocol,
          client: s.client,
          connected_at: s.connectedAt.toISOString(),
          bytes_up: s.bytesUp,
          bytes_down: s.bytesDown,
          files_up: s.filesUp,
          files_down: s.filesDown,
        })
        .execute();
      return undefined;
    });
  }

  async update(counters: readonly SessionCounters[]): Promise<void> {
    for (const c of counters) {
      await this.#db
        .updateTable('live_sessions')
        .set({
          protocol: c.protocol,
          bytes_up: c.bytesUp,
          bytes_down: c.bytesDown,
          files_up: c.filesUp,
          files_down: c.filesDown,
        })
        .where('session_id', '=', c.id)
        .execute();
    }
  }

  async close(id: string): Promise<void> {
    await this.#db.deleteFrom('live_sessions').where('session_id', '=', id).execute();
  }

  async list(now: Date): Promise<SharedSession[]> {
    const rows = await sessionsWithHeartbeats(this.#db)
      .selectAll('live_sessions')
      .select(['nodes.heartbeat_at', 'nodes.heartbeat_ms'])
      .orderBy('live_sessions.connected_at')
      .orderBy('live_sessions.session_id')
      .execute();
    return rows.filter((r) => isLive(r, now)).map(toSession);
  }

  async get(id: string, now: Date): Promise<SharedSession | undefined> {
    const row = await sessionsWithHeartbeats(this.#db)
      .selectAll('live_sessions')
      .select(['nodes.heartbeat_at', 'nodes.heartbeat_ms'])
      .where('live_sessions.session_id', '=', id)
      .executeTakeFirst();
    return row && isLive(row, now) ? toSession(row) : undefined;
  }

  async exists(id: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('live_sessions')
      .select('session_id')
      .where('session_id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  async requestKill(id: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('live_sessions')
      .set({ kill_requested_at: now.toISOString() })
      .where('session_id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async killRequests(owner: ProcessRef): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('live_sessions')
      .select('session_id')
      .where('node_id', '=', owner.nodeId)
      .where('run_id', '=', owner.runId)
      .where('pid', '=', owner.pid)
      .where('kill_requested_at', 'is not', null)
      .execute();
    return rows.map((r) => r.session_id);
  }

  async sweep(now: Date, owner?: ProcessRef): Promise<void> {
    const processes = await sessionsWithHeartbeats(this.#db)
      .select([
        'live_sessions.node_id',
        'live_sessions.run_id',
        'live_sessions.pid',
        'nodes.heartbeat_at',
        'nodes.heartbeat_ms',
      ])
      .distinct()
      .execute();
    await sweepDead(this.#db, 'live_sessions', processes, now, owner);
  }
}

/**
 * Deletes the rows of processes silent for SWEEP_AFTER_HEARTBEATS (and all of `owner`'s and of its node's earlier
 * runs), a process at a time.
 */
async function sweepDead(
  db: Kysely<Database>,
  table: 'live_sessions' | 'upload_claims',
  processes: WithHeartbeat<{ node_id: string; run_id: string; pid: number }>[],
  now: Date,
  owner?: ProcessRef,
): Promise<void> {
  for (const row of processes) {
    const ref = refOf(row);
    // An owner sweeps its own rows and those of this node's earlier runs (dead: one live run per node id).
    const mine =
      owner && (sameProcess(ref, owner) || (ref.nodeId === owner.nodeId && ref.runId !== owner.runId));
    if (isLive(row, now, SWEEP_AFTER_HEARTBEATS) && !mine) continue;
    await db
      .deleteFrom(table)
      .where('node_id', '=', ref.nodeId)
      .where('run_id', '=', ref.runId)
      .where('pid', '=', ref.pid)
      .execute();
  }
}

export class KyselyUploadClaimRepository implements UploadClaimRepository {
  readonly #db: Kysely<Database>;
  readonly #options: WriteTransactionOptions;

  constructor(db: Kysely<Database>, options: WriteTransactionOptions) {
    this.#db = db;
    this.#options = options;
  }

  async claim(key: string, owner: ProcessRef, now: Date): Promise<ProcessRef | undefined> {
    return writeTransaction(this.#db, this.#options, async (trx) => {
      const held = await claimsWithHeartbeats(trx)
        .select([
          'upload_claims.node_id',
          'upload_claims.run_id',
          'upload_claims.pid',
          'nodes.heartbeat_at',
          'nodes.heartbeat_ms',
        ])
        .where('upload_claims.claim_key', '=', key)
        .executeTakeFirst();
      if (held) {
        const holder = refOf(held);
        // The owner's own claim is its process-local lock's business (upload-lock.ts), not the cluster's.
        // A claim of an earlier run of this node is a dead process's: a node id has one live run at a time
        // (a live duplicate is refused at start), so a restarted node takes its own partials over at once.
        const earlierRunOfMine = holder.nodeId === owner.nodeId && holder.runId !== owner.runId;
        if (!sameProcess(holder, owner) && !earlierRunOfMine && isLive(held, now)) return holder;
        await trx.deleteFrom('upload_claims').where('claim_key', '=', key).execute();
      }
      await trx
        .insertInto('upload_claims')
        .values({
          claim_key: key,
          node_id: owner.nodeId,
          run_id: owner.runId,
          pid: owner.pid,
          claimed_at: now.toISOString(),
        })
        .execute();
      return undefined;
    });
  }

  async release(key: string, owner: ProcessRef): Promise<void> {
    await this.#db
      .deleteFrom('upload_claims')
      .where('claim_key', '=', key)
      .where('node_id', '=', owner.nodeId)
      .where('run_id', '=', owner.runId)
      .where('pid', '=', owner.pid)
      .execute();
  }

  /** Removes the claims of processes that are not live, and all of `owner`'s. */
  async sweep(now: Date, owner?: ProcessRef): Promise<void> {
    const processes = await claimsWithHeartbeats(this.#db)
      .select([
        'upload_claims.node_id',
        'upload_claims.run_id',
        'upload_claims.pid',
        'nodes.heartbeat_at',
        'nodes.heartbeat_ms',
      ])
      .distinct()
      .execute();
    await sweepDead(this.#db, 'upload_claims', processes, now, owner);
  }
}
