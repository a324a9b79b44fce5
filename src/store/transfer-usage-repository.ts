// TransferUsageRepository over kysely: one row per user and UTC day; the same statements on SQLite and PostgreSQL.
import type { Kysely } from 'kysely';
import { type TransferQuotas, utcDay } from '../util/transfer-quota.js';
import { sql } from './kysely.js';
import type { Database } from './schema.js';
import type { TransferUsage, TransferUsageRepository, TransferWay } from './transfer-usage-types.js';

type Sql = ReturnType<typeof sql>;

/** The first day of the month before `day`'s: older rows count in no period any more. */
function previousMonthStart(day: string): string {
  const [y, m] = [Number(day.slice(0, 4)), Number(day.slice(5, 7))];
  return m === 1 ? `${y - 1}-12-01` : `${y}-${String(m - 1).padStart(2, '0')}-01`;
}

export class KyselyTransferUsageRepository implements TransferUsageRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async charge(
    name: string,
    direction: TransferWay,
    bytes: number,
    quotas: TransferQuotas,
    at: Date,
  ): Promise<boolean> {
    if (!(await this.#add(name, direction, bytes, quotas, at))) {
      // No row for today yet (the first bytes of the day), or a refusal: make the row, then try once more.
      if (!(await this.#startDay(name, utcDay(at)))) return false;
      return this.#add(name, direction, bytes, quotas, at);
    }
    return true;
  }

  /**
   * One UPDATE of today's row whose WHERE holds every limit, so two processes cannot both take the last bytes:
   * the earlier days of the month are only read (nobody writes them any more), today's row is the one written.
   */
  async #add(
    name: string,
    direction: TransferWay,
    bytes: number,
    quotas: TransferQuotas,
    at: Date,
  ): Promise<boolean> {
    const day = utcDay(at);
    const monthStart = `${day.slice(0, 7)}-01`;
    const column = direction === 'upload' ? sql.ref('uploaded') : sql.ref('downloaded');
    const earlier = (of: Sql) => sql`(SELECT COALESCE(SUM(${of}), 0) FROM transfer_usage p
      WHERE p.user_id = transfer_usage.user_id AND p.day >= ${monthStart} AND p.day < ${day})`;
    const checks: Sql[] = [];
    const own = quotas[direction];
    if (own) {
      const moved = direction === 'upload' ? sql`uploaded` : sql`downloaded`;
      const prior = direction === 'upload' ? sql`p.uploaded` : sql`p.downloaded`;
      checks.push(
        own.period === 'day'
          ? sql`${moved} + ${bytes} <= ${own.bytes}`
          : sql`${earlier(prior)} + ${moved} + ${bytes} <= ${own.bytes}`,
      );
    }
    const total = quotas.total;
    if (total) {
      checks.push(
        total.period === 'day'
          ? sql`uploaded + downloaded + ${bytes} <= ${total.bytes}`
          : sql`${earlier(sql`p.uploaded + p.downloaded`)} + uploaded + downloaded + ${bytes} <= ${total.bytes}`,
      );
    }
    const limits = checks.length > 0 ? sql` AND ${sql.join(checks, sql` AND `)}` : sql``;
    const result = await sql`
      UPDATE transfer_usage SET ${column} = ${column} + ${bytes}
      WHERE user_id = (SELECT id FROM users WHERE name = ${name}) AND day = ${day}${limits}`.execute(
      this.#db,
    );
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  /** Makes today's row (false when the user does not exist); the first of a day also drops rows no period needs. */
  async #startDay(name: string, day: string): Promise<boolean> {
    const user = await this.#db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
    if (!user) return false;
    const inserted = await sql`
      INSERT INTO transfer_usage (user_id, day, uploaded, downloaded) VALUES (${user.id}, ${day}, 0, 0)
      ON CONFLICT (user_id, day) DO NOTHING`.execute(this.#db);
    if (Number(inserted.numAffectedRows ?? 0) > 0) {
      await this.#db
        .deleteFrom('transfer_usage')
        .where('user_id', '=', user.id)
        .where('day', '<', previousMonthStart(day))
        .execute();
    }
    return true;
  }

  async usage(name: string, at: Date): Promise<{ day: TransferUsage; month: TransferUsage }> {
    const day = utcDay(at);
    const rows = await this.#db
      .selectFrom('transfer_usage')
      .innerJoin('users', 'users.id', 'transfer_usage.user_id')
      .select(['transfer_usage.day', 'transfer_usage.uploaded', 'transfer_usage.downloaded'])
      .where('users.name', '=', name)
      .where('transfer_usage.day', '>=', `${day.slice(0, 7)}-01`)
      .where('transfer_usage.day', '<=', day)
      .execute();
    const today = rows.find((r) => r.day === day);
    let uploaded = 0;
    let downloaded = 0;
    for (const r of rows) {
      uploaded += Number(r.uploaded);
      downloaded += Number(r.downloaded);
    }
    return {
      day: { uploaded: Number(today?.uploaded ?? 0), downloaded: Number(today?.downloaded ?? 0) },
      month: { uploaded, downloaded },
    };
  }
}
