// GroupRepository over kysely: groups and memberships, the same queries on SQLite and PostgreSQL.
import type { Kysely, Selectable } from 'kysely';
import type { PermissionMap } from '../permission-vocabulary.js';
import type { PgpPolicies } from '../util/pgp-policy.js';
import { transferQuotasFrom } from '../util/transfer-quota.js';
import type { GroupPatch, GroupRecord, GroupRepository, NewGroup, UserGroups } from './group-types.js';
import { idOf, NamedRecords } from './named-records.js';
import type { Database, GroupsTable } from './schema.js';
import { shapesOf, slot } from './statement-shapes.js';
import type { Protocol } from './user-types.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

function toGroup(row: Selectable<GroupsTable>): GroupRecord {
  return {
    id: Number(row.id),
    name: row.name,
    description: row.description,
    homeTemplate: row.home_template,
    permissions: JSON.parse(row.permissions) as PermissionMap,
    protocols: JSON.parse(row.protocols) as Protocol[],
    allowedSources: JSON.parse(row.allowed_sources) as string[],
    pgpPolicies: JSON.parse(row.pgp_policies) as PgpPolicies,
    quotaBytes: Number(row.quota_bytes),
    quotaFiles: Number(row.quota_files),
    uploadRate: Number(row.upload_rate),
    downloadRate: Number(row.download_rate),
    transferQuotas: transferQuotasFrom(row.transfer_quotas),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The columns a patch (or a new group) sets; undefined fields are left alone. */
function columnsOf(patch: GroupPatch): Partial<Record<keyof GroupsTable, unknown>> {
  const v: Partial<Record<keyof GroupsTable, unknown>> = {};
  if (patch.description !== undefined) v.description = patch.description;
  if (patch.homeTemplate !== undefined) v.home_template = patch.homeTemplate;
  if (patch.permissions !== undefined) v.permissions = JSON.stringify(patch.permissions);
  if (patch.protocols !== undefined) v.protocols = JSON.stringify(patch.protocols);
  if (patch.allowedSources !== undefined) v.allowed_sources = JSON.stringify(patch.allowedSources);
  if (patch.pgpPolicies !== undefined) v.pgp_policies = JSON.stringify(patch.pgpPolicies);
  if (patch.quotaBytes !== undefined) v.quota_bytes = patch.quotaBytes;
  if (patch.quotaFiles !== undefined) v.quota_files = patch.quotaFiles;
  if (patch.uploadRate !== undefined) v.upload_rate = patch.uploadRate;
  if (patch.downloadRate !== undefined) v.download_rate = patch.downloadRate;
  if (patch.transferQuotas !== undefined) v.transfer_quotas = JSON.stringify(patch.transferQuotas);
  return v;
}

type Db = Kysely<Database>;

export class KyselyGroupRepository implements GroupRepository {
  readonly #db: Db;
  readonly #records: NamedRecords<'groups', GroupRecord>;
  /** Membership changes read the ids before they write: one write transaction each. */
  readonly #writes: WriteTransactionOptions;

  constructor(db: Db, writes: WriteTransactionOptions) {
    this.#db = db;
    this.#writes = writes;
    this.#records = new NamedRecords(db, writes, {
      table: 'groups',
      toRecord: toGroup,
      usedBy: {
        table: 'user_groups',
        column: 'group_id',
        refusal: (name, n) => `group ${name} still has ${n} member(s): remove them from it first`,
      },
    });
  }

  create(group: NewGroup): Promise<GroupRecord> {
    return this.#records.create(group.name, columnsOf(group));
  }

  findByName(name: string): Promise<GroupRecord | undefined> {
    return this.#records.findByName(name);
  }

  list(): Promise<GroupRecord[]> {
    return this.#records.list();
  }

  update(name: string, patch: GroupPatch): Promise<GroupRecord | undefined> {
    return this.#records.update(name, columnsOf(patch));
  }

  remove(name: string): Promise<boolean> {
    return this.#records.remove(name);
  }

  async members(name: string): Promise<{ user: string; primary: boolean }[]> {
    const groupId = await idOf(this.#db, 'groups', name);
    const rows = await this.#db
      .selectFrom('user_groups')
      .innerJoin('users', 'users.id', 'user_groups.user_id')
      .select(['users.name as user', 'user_groups.position as position'])
      .where('user_groups.group_id', '=', groupId)
      .orderBy('users.name')
      .execute();
    return rows.map((r) => ({ user: r.user, primary: Number(r.position) === 0 }));
  }

  async groupsOf(userName: string): Promise<UserGroups> {
    const db = this.#db;
    // Read at every login (the effective user): a compiled shape (statement-shapes.ts).
    const { rows } = await shapesOf(db).run(
      db,
      'groups.of-user',
      () =>
        db
          .selectFrom('user_groups')
          .innerJoin('users', 'users.id', 'user_groups.user_id')
          .innerJoin('groups', 'groups.id', 'user_groups.group_id')
          .selectAll('groups')
          .select('user_groups.position as position')
          .where('users.name', '=', slot(0))
          .orderBy('user_groups.position'),
      [userName],
    );
    const primary = rows.find((r) => Number(r.position) === 0);
    return {
      primary: primary ? toGroup(primary) : undefined,
      secondary: rows.filter((r) => Number(r.position) !== 0).map(toGroup),
    };
  }

  async setPrimary(userName: string, group: string | null): Promise<void> {
    await writeTransaction(this.#db, this.#writes, async (trx) => {
      const userId = await idOf(trx, 'users', userName);
      const groupId = group === null ? undefined : await idOf(trx, 'groups', group);
      // The old primary, and a secondary membership of the new one, make way for it.
      let q = trx.deleteFrom('user_groups').where('user_id', '=', userId);
      q =
        groupId === undefined
          ? q.where('position', '=', 0)
          : q.where((eb) => eb.or([eb('position', '=', 0), eb('group_id', '=', groupId)]));
      await q.execute();
      if (groupId !== undefined)
        await trx
          .insertInto('user_groups')
          .values({ user_id: userId, group_id: groupId, position: 0 })
          .execute();
    });
  }

  async addSecondary(userName: string, group: string): Promise<void> {
    await writeTransaction(this.#db, this.#writes, async (trx) => {
      const userId = await idOf(trx, 'users', userName);
      const groupId = await idOf(trx, 'groups', group);
      const rows = await trx
        .selectFrom('user_groups')
        .select(['group_id', 'position'])
        .where('user_id', '=', userId)
        .execute();
      if (rows.some((r) => Number(r.group_id) === groupId)) return;
      const position = Math.max(0, ...rows.map((r) => Number(r.position))) + 1;
      await trx.insertInto('user_groups').values({ user_id: userId, group_id: groupId, position }).execute();
    });
  }

  async removeSecondary(userName: string, group: string): Promise<boolean> {
    const userId = await idOf(this.#db, 'users', userName);
    const groupId = await idOf(this.#db, 'groups', group);
    const result = await this.#db
      .deleteFrom('user_groups')
      .where('user_id', '=', userId)
      .where('group_id', '=', groupId)
      .where('position', '>', 0)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
