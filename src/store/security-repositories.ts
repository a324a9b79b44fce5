// Defender scores and bans, account lockout counters and TOTP secrets, over kysely (SQLite and PostgreSQL).
import type { Kysely, Selectable } from 'kysely';
import { sql } from './kysely.js';
import type { Database, DefenderHostsTable, LoginFailuresTable } from './schema.js';
import { KyselyTotpRepository } from './totp-repository.js';
import type {
  AccountSecurityRepository,
  DefenderHost,
  DefenderListEntry,
  DefenderListName,
  DefenderListRepository,
  DefenderRepository,
  LoginFailures,
} from './types.js';

const toHost = (row: Selectable<DefenderHostsTable>): DefenderHost => ({
  address: row.address,
  score: Number(row.score),
  windowStart: new Date(row.window_start),
  bannedUntil: row.banned_until ? new Date(row.banned_until) : null,
  banCount: Number(row.ban_count),
  lastReason: row.last_reason,
  updatedAt: new Date(row.updated_at),
});

const toFailures = (row: Selectable<LoginFailuresTable>): LoginFailures => ({
  count: Number(row.count),
  windowStart: new Date(row.window_start),
  lockedUntil: row.locked_until ? new Date(row.locked_until) : null,
});

export class KyselyDefenderRepository implements DefenderRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async score(
    address: string,
    points: number,
    reason: string,
    now: Date,
    windowSeconds: number,
  ): Promise<DefenderHost> {
    const at = now.toISOString();
    const cutoff = new Date(now.getTime() - windowSeconds * 1000).toISOString();
    // One upsert: a window that has passed restarts at these points, otherwise they add up (ISO strings sort by time).
    await this.db
      .insertInto('defender_hosts')
      .values({
        address,
        score: points,
        window_start: at,
        banned_until: null,
        ban_count: 0,
        last_reason: reason,
        updated_at: at,
      })
      .onConflict((oc) =>
        oc.column('address').doUpdateSet({
          score: sql`CASE WHEN defender_hosts.window_start < ${cutoff} THEN ${points} ELSE defender_hosts.score + ${points} END`,
          window_start: sql`CASE WHEN defender_hosts.window_start < ${cutoff} THEN ${at} ELSE defender_hosts.window_start END`,
          last_reason: reason,
          updated_at: at,
        }),
      )
      .execute();
    return (await this.get(address))!;
  }

  async ban(address: string, until: Date, expectedBanCount: number): Promise<boolean> {
    const result = await this.db
      .updateTable('defender_hosts')
      .set({ banned_until: until.toISOString(), ban_count: expectedBanCount + 1, score: 0 })
      .where('address', '=', address)
      .where('ban_count', '=', expectedBanCount)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async get(address: string): Promise<DefenderHost | undefined> {
    const row = await this.db
      .selectFrom('defender_hosts')
      .selectAll()
      .where('address', '=', address)
      .executeTakeFirst();
    return row ? toHost(row) : undefined;
  }

  async list(): Promise<DefenderHost[]> {
    return (await this.db.selectFrom('defender_hosts').selectAll().orderBy('address').execute()).map(toHost);
  }

  async unban(address: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('defender_hosts')
      .where('address', '=', address)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export class KyselyDefenderListRepository implements DefenderListRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<DefenderListEntry[]> {
    const rows = await this.db
      .selectFrom('defender_lists')
      .selectAll()
      .orderBy('list')
      .orderBy('cidr')
      .execute();
    return rows.map((row) => ({
      list: row.list as DefenderListName,
      cidr: row.cidr,
      note: row.note,
      createdBy: row.created_by,
      createdAt: new Date(row.created_at),
    }));
  }

  async add(entry: DefenderListEntry): Promise<boolean> {
    // One statement: two administrators adding the same CIDR at once store it once, and one of them is told.
    const result = await this.db
      .insertInto('defender_lists')
      .values({
        list: entry.list,
        cidr: entry.cidr,
        note: entry.note,
        created_by: entry.createdBy,
        created_at: entry.createdAt.toISOString(),
      })
      .onConflict((oc) => oc.columns(['list', 'cidr']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async remove(list: DefenderListName, cidr: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('defender_lists')
      .where('list', '=', list)
      .where('cidr', '=', cidr)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

/** Lockout counters, and the TOTP secrets of SFTP users (table user_totp). */
export class KyselyAccountSecurityRepository
  extends KyselyTotpRepository
  implements AccountSecurityRepository
{
  constructor(db: Kysely<Database>) {
    super(db, 'user_totp', 'user_name');
  }

  async failures(user: string): Promise<LoginFailures | undefined> {
    const row = await this.db
      .selectFrom('login_failures')
      .selectAll()
      .where('user_name', '=', user)
      .executeTakeFirst();
    return row ? toFailures(row) : undefined;
  }

  async recordFailure(user: string, now: Date, windowSeconds: number): Promise<LoginFailures> {
    const at = now.toISOString();
    const cutoff = new Date(now.getTime() - windowSeconds * 1000).toISOString();
    await this.db
      .insertInto('login_failures')
      .values({ user_name: user, count: 1, window_start: at, locked_until: null })
      .onConflict((oc) =>
        oc.column('user_name').doUpdateSet({
          count: sql`CASE WHEN login_failures.window_start < ${cutoff} THEN 1 ELSE login_failures.count + 1 END`,
          window_start: sql`CASE WHEN login_failures.window_start < ${cutoff} THEN ${at} ELSE login_failures.window_start END`,
        }),
      )
      .execute();
    return (await this.failures(user))!;
  }

  async lock(user: string, until: Date): Promise<void> {
    await this.db
      .updateTable('login_failures')
      .set({ locked_until: until.toISOString(), count: 0 })
      .where('user_name', '=', user)
      .execute();
  }

  async clearFailures(user: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('user_name', '=', user).execute();
  }
}
