// The web client's logins over kysely: a cookie is honoured only while its row is here and unexpired.
import type { Kysely, Selectable } from 'kysely';
import { sql } from './kysely.js';
import type { WebSessionRecord, WebSessionRepository, WebSessionTraffic } from './live-session-types.js';
import type { Database, WebSessionsTable } from './schema.js';

function toRecord(row: Selectable<WebSessionsTable>): WebSessionRecord {
  return {
    id: row.session_id,
    username: row.username,
    remoteAddress: row.remote_address,
    nodeId: row.node_id,
    pid: Number(row.pid),
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    bytesUp: Number(row.bytes_up),
    bytesDown: Number(row.bytes_down),
    filesUp: Number(row.files_up),
    filesDown: Number(row.files_down),
  };
}

export class KyselyWebSessionRepository implements WebSessionRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async open(s: WebSessionRecord): Promise<void> {
    await this.#db
      .insertInto('web_sessions')
      .values({
        session_id: s.id,
        username: s.username,
        remote_address: s.remoteAddress,
        node_id: s.nodeId,
        pid: s.pid,
        created_at: s.createdAt.toISOString(),
        expires_at: s.expiresAt.toISOString(),
        bytes_up: s.bytesUp,
        bytes_down: s.bytesDown,
        files_up: s.filesUp,
        files_down: s.filesDown,
      })
      .execute();
  }

  async get(id: string, now: Date): Promise<WebSessionRecord | undefined> {
    const row = await this.#db
      .selectFrom('web_sessions')
      .selectAll()
      .where('session_id', '=', id)
      .where('expires_at', '>', now.toISOString())
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async addTraffic(id: string, t: WebSessionTraffic): Promise<void> {
    // One UPDATE adding to the stored counters: transfers in several processes at once all count.
    await this.#db
      .updateTable('web_sessions')
      .set({
        bytes_up: sql`bytes_up + ${t.bytesUp}`,
        bytes_down: sql`bytes_down + ${t.bytesDown}`,
        files_up: sql`files_up + ${t.filesUp}`,
        files_down: sql`files_down + ${t.filesDown}`,
      })
      .where('session_id', '=', id)
      .execute();
  }

  async close(id: string): Promise<WebSessionRecord | undefined> {
    const row = await this.#db
      .deleteFrom('web_sessions')
      .where('session_id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(now: Date): Promise<WebSessionRecord[]> {
    const rows = await this.#db
      .selectFrom('web_sessions')
      .selectAll()
      .where('expires_at', '>', now.toISOString())
      .orderBy('created_at')
      .orderBy('session_id')
      .execute();
    return rows.map(toRecord);
  }

  async removeExpired(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('web_sessions')
      .where('expires_at', '<=', now.toISOString())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
