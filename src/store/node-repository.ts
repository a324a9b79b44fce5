// The node registry over kysely: register (refusing a live duplicate id), heartbeat, remove, list.
import type { Kysely, Selectable } from 'kysely';
import type { NodeConflict, NodeListener, NodeProcess, NodeRepository } from './node-types.js';
import type { Database, NodesTable } from './schema.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

/**
 * The write transaction of a registration must exclude another registration from its check to its insert: SQLite's
 * `BEGIN IMMEDIATE` does; PostgreSQL's driver opens it with a table lock (two nodes starting with one id at the
 * same moment must not both see none).
 */
export type NodeRepositoryOptions = WriteTransactionOptions;

function parseListeners(text: string): NodeListener[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as NodeListener[]) : [];
  } catch {
    return [];
  }
}

function toProcess(row: Selectable<NodesTable>): NodeProcess {
  return {
    nodeId: row.node_id,
    runId: row.run_id,
    pid: Number(row.pid),
    version: row.version,
    host: row.host,
    startedAt: new Date(row.started_at),
    heartbeatAt: new Date(row.heartbeat_at),
    heartbeatMs: Number(row.heartbeat_ms),
    listeners: parseListeners(row.listeners),
    sessions: Number(row.sessions),
  };
}

export class KyselyNodeRepository implements NodeRepository {
  readonly #db: Kysely<Database>;
  readonly #options: NodeRepositoryOptions;

  constructor(db: Kysely<Database>, options: NodeRepositoryOptions) {
    this.#db = db;
    this.#options = options;
  }

  async register(
    p: NodeProcess,
    staleMs: number,
    now: Date,
    isGone: (other: NodeProcess) => boolean = () => false,
  ): Promise<NodeConflict | undefined> {
    const cutoff = new Date(now.getTime() - staleMs).toISOString();
    return writeTransaction(this.#db, this.#options, async (trx) => {
      const live = await trx
        .selectFrom('nodes')
        .selectAll()
        .where('node_id', '=', p.nodeId)
        .where('run_id', '<>', p.runId)
        .where('heartbeat_at', '>=', cutoff)
        .orderBy('heartbeat_at', 'desc')
        .execute();
      const holder = live.map(toProcess).find((other) => !isGone(other));
      if (holder) return { conflict: holder };
      // What is left of the id is stale or gone: a killed run, or a dead worker of this one.
      await trx
        .deleteFrom('nodes')
        .where('node_id', '=', p.nodeId)
        .where((eb) =>
          eb.or([eb('run_id', '<>', p.runId), eb('heartbeat_at', '<', cutoff), eb('pid', '=', p.pid)]),
        )
        .execute();
      await trx
        .insertInto('nodes')
        .values({
          node_id: p.nodeId,
          run_id: p.runId,
          pid: p.pid,
          version: p.version,
          host: p.host,
          started_at: p.startedAt.toISOString(),
          heartbeat_at: p.heartbeatAt.toISOString(),
          heartbeat_ms: p.heartbeatMs,
          listeners: JSON.stringify(p.listeners),
          sessions: p.sessions,
        })
        .execute();
      return undefined;
    });
  }

  async heartbeat(nodeId: string, runId: string, pid: number, sessions: number, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('nodes')
      .set({ heartbeat_at: now.toISOString(), sessions })
      .where('node_id', '=', nodeId)
      .where('run_id', '=', runId)
      .where('pid', '=', pid)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async remove(nodeId: string, runId: string, pid: number): Promise<void> {
    await this.#db
      .deleteFrom('nodes')
      .where('node_id', '=', nodeId)
      .where('run_id', '=', runId)
      .where('pid', '=', pid)
      .execute();
  }

  async list(): Promise<NodeProcess[]> {
    const rows = await this.#db.selectFrom('nodes').selectAll().orderBy('node_id').orderBy('pid').execute();
    return rows.map(toProcess);
  }
}
