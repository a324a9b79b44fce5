// UserRepository over kysely: the same queries serve the SQLite and PostgreSQL drivers.
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import type { PermissionMap } from '../permission-vocabulary.js';
import type { PgpPolicies } from '../util/pgp-policy.js';
import { transferQuotasFrom } from '../util/transfer-quota.js';
import { sql } from './kysely.js';
import { isUniqueViolation } from './named-records.js';
import type { Database, UserKeysTable, UsersTable } from './schema.js';
import { shapesOf, slot } from './statement-shapes.js';
import type {
  AuthMethod,
  NewPublicKey,
  NewUser,
  Protocol,
  UserPageOrder,
  UserPagePosition,
  UserPatch,
  UserPublicKey,
  UserRecord,
  UserRepository,
} from './types.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

const DEFAULT_PERMISSIONS: PermissionMap = { '/': ['*'] };

function toKey(row: Selectable<UserKeysTable>): UserPublicKey {
  return {
    algorithm: row.algorithm,
    blob: Buffer.from(row.public_key, 'base64'),
    comment: row.comment,
    fingerprint: row.fingerprint,
    options: row.options,
    createdAt: new Date(row.created_at),
  };
}

/** Users with their keys, grouped in one pass (not a scan of every key per user). */
function withKeys(rows: Selectable<UsersTable>[], keys: Selectable<UserKeysTable>[]): UserRecord[] {
  const byUser = new Map<Selectable<UserKeysTable>['user_id'], Selectable<UserKeysTable>[]>();
  for (const key of keys) {
    const list = byUser.get(key.user_id);
    if (list) list.push(key);
    else byUser.set(key.user_id, [key]);
  }
  return rows.map((row) => toUser(row, byUser.get(row.id) ?? []));
}

function toUser(row: Selectable<UsersTable>, keys: Selectable<UserKeysTable>[]): UserRecord {
  return {
    id: row.id,
    name: row.name,
    passwordHash: row.password_hash,
    homeDir: row.home_dir,
    requiredMethods: JSON.parse(row.required_methods) as AuthMethod[],
    disabled: Boolean(row.disabled),
    permissions: JSON.parse(row.permissions) as PermissionMap,
    allowedSources: JSON.parse(row.allowed_sources) as string[],
    requiredMethodsBeforeTotp:
      row.required_methods_before_totp === null
        ? null
        : (JSON.parse(row.required_methods_before_totp) as AuthMethod[]),
    publicKeys: keys.map(toKey),
    pgpPolicies: JSON.parse(row.pgp_policies) as PgpPolicies,
    quota: {
      limitBytes: Number(row.quota_bytes),
      limitFiles: Number(row.quota_files),
      usedBytes: Number(row.used_bytes),
      usedFiles: Number(row.used_files),
    },
    expiresOn: row.expires_on,
    lastLoginAt: row.last_login_at ? new Date(row.last_login_at) : null,
    uploadRate: Number(row.upload_rate),
    transferQuotas: transferQuotasFrom(row.transfer_quotas),
    passwordChangedAt: row.password_changed_at ? new Date(row.password_changed_at) : null,
    mustChangePassword: Boolean(row.must_change_password),
    downloadRate: Number(row.download_rate),
    protocols: JSON.parse(row.protocols) as Protocol[],
    authSource: row.auth_source === 'ldap' ? 'ldap' : null,
    externalGroups: JSON.parse(row.external_groups) as string[],
    storageEncryption: row.storage_encryption === null ? null : Boolean(row.storage_encryption),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The column of each sort (times are ISO text: text order is time order on both drivers). */
const SORT_COLUMN = { name: 'name', created: 'created_at', updated: 'updated_at' } as const;

export class KyselyUserRepository implements UserRepository {
  readonly #db: Kysely<Database>;
  /** Changes that read before they write (password history, removal) run as one write transaction. */
  readonly #writes: WriteTransactionOptions;

  constructor(db: Kysely<Database>, writes: WriteTransactionOptions) {
    this.#db = db;
    this.#writes = writes;
  }

  async create(user: NewUser): Promise<UserRecord> {
    const now = new Date().toISOString();
    try {
      await this.#db
        .insertInto('users')
        .values({
          name: user.name,
          password_hash: user.passwordHash ?? null,
          home_dir: user.homeDir ?? null,
          required_methods: JSON.stringify(user.requiredMethods ?? []),
          disabled: user.disabled ? 1 : 0,
          permissions: JSON.stringify(user.permissions ?? DEFAULT_PERMISSIONS),
          allowed_sources: JSON.stringify(user.allowedSources ?? []),
          protocols: JSON.stringify(user.protocols ?? []),
          auth_source: user.authSource ?? null,
          external_groups: JSON.stringify(user.externalGroups ?? []),
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `user ${user.name} already exists`);
      throw err;
    }
    return (await this.findByName(user.name))!;
  }

  async findByName(name: string): Promise<UserRecord | undefined> {
    // Every login and every rule's file action reads a user: compiled shapes (statement-shapes.ts).
    const db = this.#db;
    const shapes = shapesOf(db);
    const {
      rows: [row],
    } = await shapes.run(
      db,
      'users.by-name',
      () => db.selectFrom('users').selectAll().where('name', '=', slot(0)),
      [name],
    );
    if (!row) return undefined;
    const { rows: keys } = await shapes.run(
      db,
      'user_keys.of-user',
      () => db.selectFrom('user_keys').selectAll().where('user_id', '=', slot(0)).orderBy('id'),
      [row.id],
    );
    return toUser(row, keys);
  }

  async list(): Promise<UserRecord[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('name').execute();
    const keys = await this.#db.selectFrom('user_keys').selectAll().orderBy('id').execute();
    return withKeys(rows, keys);
  }

  async page(after: string | undefined, limit: number): Promise<UserRecord[]> {
    return this.sortedPage(
      { by: 'name', descending: false },
      after === undefined ? undefined : { key: after, name: after },
      limit,
    );
  }

  async sortedPage(
    order: UserPageOrder,
    after: UserPagePosition | undefined,
    limit: number,
  ): Promise<UserRecord[]> {
    const column = SORT_COLUMN[order.by];
    const direction = order.descending ? 'desc' : 'asc';
    let q = this.#db.selectFrom('users').selectAll();
    if (after !== undefined) {
      const beyond = order.descending ? '<' : '>';
      q =
        column === 'name'
          ? q.where('name', beyond, after.name)
          : q.where((eb) =>
              eb.or([
                eb(column, beyond, after.key),
                eb.and([eb(column, '=', after.key), eb('name', beyond, after.name)]),
              ]),
            );
    }
    if (column !== 'name') q = q.orderBy(column, direction);
    const rows = await q.orderBy('name', direction).limit(limit).execute();
    if (rows.length === 0) return [];
    const keys = await this.#db
      .selectFrom('user_keys')
      .selectAll()
      .where(
        'user_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('id')
      .execute();
    return withKeys(rows, keys);
  }

  async update(name: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const values: Partial<Record<keyof UsersTable, unknown>> = { updated_at: new Date().toISOString() };
    if (patch.passwordHash !== undefined) values.password_hash = patch.passwordHash;
    if (patch.homeDir !== undefined) values.home_dir = patch.homeDir;
    if (patch.requiredMethods !== undefined) values.required_methods = JSON.stringify(patch.requiredMethods);
    if (patch.permissions !== undefined) values.permissions = JSON.stringify(patch.permissions);
    if (patch.allowedSources !== undefined) values.allowed_sources = JSON.stringify(patch.allowedSources);
    if (patch.pgpPolicies !== undefined) values.pgp_policies = JSON.stringify(patch.pgpPolicies);
    if (patch.quotaBytes !== undefined) values.quota_bytes = patch.quotaBytes;
    if (patch.quotaFiles !== undefined) values.quota_files = patch.quotaFiles;
    if (patch.expiresOn !== undefined) values.expires_on = patch.expiresOn;
    if (patch.lastLoginAt !== undefined) values.last_login_at = patch.lastLoginAt?.toISOString() ?? null;
    // A login is not a change of the account: recording it leaves `updated` as it was.
    const given = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (given.length === 1 && given[0]![0] === 'lastLoginAt') delete values.updated_at;
    if (patch.uploadRate !== undefined) values.upload_rate = patch.uploadRate;
    if (patch.transferQuotas !== undefined) values.transfer_quotas = JSON.stringify(patch.transferQuotas);
    if (patch.passwordChangedAt !== undefined)
      values.password_changed_at = patch.passwordChangedAt?.toISOString() ?? null;
    if (patch.mustChangePassword !== undefined)
      values.must_change_password = patch.mustChangePassword ? 1 : 0;
    if (patch.storageEncryption !== undefined)
      values.storage_encryption = patch.storageEncryption === null ? null : patch.storageEncryption ? 1 : 0;
    if (patch.downloadRate !== undefined) values.download_rate = patch.downloadRate;
    if (patch.protocols !== undefined) values.protocols = JSON.stringify(patch.protocols);
    if (patch.authSource !== undefined) values.auth_source = patch.authSource;
    if (patch.externalGroups !== undefined) values.external_groups = JSON.stringify(patch.externalGroups);
    if (patch.disabled !== undefined) values.disabled = patch.disabled ? 1 : 0;
    if (patch.requiredMethodsBeforeTotp !== undefined) {
      values.required_methods_before_totp =
        patch.requiredMethodsBeforeTotp === null ? null : JSON.stringify(patch.requiredMethodsBeforeTotp);
    }
    const result = await this.#db
      .updateTable('users')
      .set(values as Partial<UsersTable> as never)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.findByName(name);
  }

  async changeUsage(
    name: string,
    bytes: number,
    files: number,
    limits?: { readonly bytes: number; readonly files: number },
  ): Promise<boolean> {
    const limitBytes = limits ? sql`CAST(${limits.bytes} AS BIGINT)` : sql`quota_bytes`;
    const limitFiles = limits ? sql`CAST(${limits.files} AS BIGINT)` : sql`quota_files`;
    // One statement, so concurrent uploads of several processes cannot both take the last bytes. The bare
    // parameters are cast: PostgreSQL would type `$1 <= 0` as a 32-bit integer and refuse a change of 2 GiB.
    const delta = sql`CAST(${bytes} AS BIGINT)`;
    const count = sql`CAST(${files} AS BIGINT)`;
    const result = await sql`
      UPDATE users SET
        used_bytes = CASE WHEN used_bytes + ${delta} < 0 THEN 0 ELSE used_bytes + ${delta} END,
        used_files = CASE WHEN used_files + ${count} < 0 THEN 0 ELSE used_files + ${count} END
      WHERE name = ${name}
        AND (${delta} <= 0 OR ${limitBytes} = 0 OR used_bytes + ${delta} <= ${limitBytes})
        AND (${count} <= 0 OR ${limitFiles} = 0 OR used_files + ${count} <= ${limitFiles})`.execute(this.#db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async setUsage(name: string, bytes: number, files: number): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ used_bytes: bytes, used_files: files })
      .where('name', '=', name)
      .execute();
  }

  async recentPasswordHashes(name: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const rows = await this.#db
      .selectFrom('password_history')
      .innerJoin('users', 'users.id', 'password_history.user_id')
      .select('password_history.password_hash')
      .where('users.name', '=', name)
      .orderBy('password_history.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => r.password_hash);
  }

  async rememberPasswordHash(name: string, hash: string, keep: number): Promise<void> {
    await writeTransaction(this.#db, this.#writes, async (trx) => {
      const user = await trx.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
      if (!user) return;
      if (keep > 0) {
        await trx
          .insertInto('password_history')
          .values({ user_id: user.id, password_hash: hash, created_at: new Date().toISOString() })
          .execute();
      }
      // Only the newest `keep` stay: older hashes are no use to the rule and need not be kept.
      const kept = await trx
        .selectFrom('password_history')
        .select('id')
        .where('user_id', '=', user.id)
        .orderBy('id', 'desc')
        .limit(Math.max(keep, 0))
        .execute();
      let removal = trx.deleteFrom('password_history').where('user_id', '=', user.id);
      if (kept.length > 0)
        removal = removal.where(
          'id',
          'not in',
          kept.map((k) => k.id),
        );
      await removal.execute();
    });
  }

  async remove(name: string): Promise<boolean> {
    return writeTransaction(this.#db, this.#writes, async (trx) => {
      const row = await trx.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
      if (!row) return false;
      await trx.deleteFrom('user_keys').where('user_id', '=', row.id).execute();
      await trx.deleteFrom('user_groups').where('user_id', '=', row.id).execute();
      await trx.deleteFrom('transfer_usage').where('user_id', '=', row.id).execute();
      await trx.deleteFrom('password_history').where('user_id', '=', row.id).execute();
      await trx.deleteFrom('user_totp').where('user_name', '=', name).execute();
      await trx.deleteFrom('login_failures').where('user_name', '=', name).execute();
      await trx.deleteFrom('users').where('id', '=', row.id).execute();
      return true;
    });
  }

  async addPublicKey(name: string, key: NewPublicKey): Promise<UserRecord> {
    const row = await this.#db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
    if (!row) throw new FerryError('ERR_NOT_FOUND', `no user ${name}`);
    try {
      await this.#db
        .insertInto('user_keys')
        .values({
          user_id: row.id,
          algorithm: key.algorithm,
          public_key: key.blob.toString('base64'),
          comment: key.comment,
          fingerprint: key.fingerprint,
          options: key.options,
          created_at: new Date().toISOString(),
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new FerryError('ERR_ALREADY_EXISTS', `user ${name} already has key ${key.fingerprint}`);
      }
      throw err;
    }
    return (await this.findByName(name))!;
  }

  async removePublicKey(name: string, fingerprint: string): Promise<boolean> {
    const row = await this.#db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
    if (!row) throw new FerryError('ERR_NOT_FOUND', `no user ${name}`);
    const result = await this.#db
      .deleteFrom('user_keys')
      .where('user_id', '=', row.id)
      .where('fingerprint', '=', fingerprint)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
