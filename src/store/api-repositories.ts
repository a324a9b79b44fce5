// REST API administrator accounts, API keys and console sessions over kysely (SQLite and PostgreSQL).
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import { isUniqueViolation } from './named-records.js';
import type { ApiAdminsTable, ApiKeysTable, ApiSessionsTable, Database } from './schema.js';
import type {
  ApiAdminRecord,
  ApiAdminRepository,
  ApiKeyRecord,
  ApiKeyRepository,
  ApiRole,
  ApiSessionRecord,
  ApiSessionRepository,
} from './types.js';

const date = (text: string | null): Date | null => (text === null ? null : new Date(text));

const toAdmin = (row: Selectable<ApiAdminsTable>): ApiAdminRecord => ({
  name: row.name,
  passwordHash: row.password_hash,
  role: row.role as ApiRole,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

const toKey = (row: Selectable<ApiKeysTable>): ApiKeyRecord => ({
  id: Number(row.id),
  name: row.name,
  role: row.role as ApiRole,
  keyHash: row.key_hash,
  prefix: row.prefix,
  createdAt: new Date(row.created_at),
  expiresAt: date(row.expires_at),
  lastUsedAt: date(row.last_used_at),
  createdBy: row.created_by,
});

export class KyselyApiAdminRepository implements ApiAdminRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async add(
    admin: { name: string; passwordHash: string; role: ApiRole },
    now = new Date(),
  ): Promise<ApiAdminRecord> {
    const at = now.toISOString();
    try {
      await this.db
        .insertInto('api_admins')
        .values({
          name: admin.name,
          password_hash: admin.passwordHash,
          role: admin.role,
          created_at: at,
          updated_at: at,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `admin ${admin.name} already exists`);
      throw err;
    }
    return (await this.get(admin.name))!;
  }

  async get(name: string): Promise<ApiAdminRecord | undefined> {
    const row = await this.db
      .selectFrom('api_admins')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? toAdmin(row) : undefined;
  }

  async list(): Promise<ApiAdminRecord[]> {
    return (await this.db.selectFrom('api_admins').selectAll().orderBy('name').execute()).map(toAdmin);
  }

  async setPassword(name: string, passwordHash: string, now = new Date()): Promise<boolean> {
    const result = await this.db
      .updateTable('api_admins')
      .set({ password_hash: passwordHash, updated_at: now.toISOString() })
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async setRole(name: string, role: ApiRole, now = new Date()): Promise<boolean> {
    const result = await this.db
      .updateTable('api_admins')
      .set({ role, updated_at: now.toISOString() })
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('api_admins').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

export class KyselyApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async add(
    key: Omit<ApiKeyRecord, 'id' | 'createdAt' | 'lastUsedAt'>,
    now = new Date(),
  ): Promise<ApiKeyRecord> {
    try {
      await this.db
        .insertInto('api_keys')
        .values({
          name: key.name,
          role: key.role,
          key_hash: key.keyHash,
          prefix: key.prefix,
          created_at: now.toISOString(),
          expires_at: key.expiresAt?.toISOString() ?? null,
          last_used_at: null,
          created_by: key.createdBy,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `API key ${key.name} already exists`);
      throw err;
    }
    return (await this.findByHash(key.keyHash))!;
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('key_hash', '=', keyHash)
      .executeTakeFirst();
    return row ? toKey(row) : undefined;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.db.selectFrom('api_keys').selectAll().orderBy('name').execute()).map(toKey);
  }

  async touch(id: number, at: Date): Promise<void> {
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: at.toISOString() })
      .where('id', '=', id)
      .execute();
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('api_keys').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}

const toSession = (row: Selectable<ApiSessionsTable>): ApiSessionRecord => ({
  idHash: row.id_hash,
  adminName: row.admin_name,
  csrfToken: row.csrf_token,
  createdAt: new Date(row.created_at),
  expiresAt: new Date(row.expires_at),
});

export class KyselyApiSessionRepository implements ApiSessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async add(session: ApiSessionRecord): Promise<void> {
    await this.db
      .insertInto('api_sessions')
      .values({
        id_hash: session.idHash,
        admin_name: session.adminName,
        csrf_token: session.csrfToken,
        created_at: session.createdAt.toISOString(),
        expires_at: session.expiresAt.toISOString(),
      })
      .execute();
  }

  async find(idHash: string): Promise<ApiSessionRecord | undefined> {
    const row = await this.db
      .selectFrom('api_sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    return row ? toSession(row) : undefined;
  }

  async remove(idHash: string): Promise<boolean> {
    const result = await this.db.deleteFrom('api_sessions').where('id_hash', '=', idHash).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async removeForAdmin(adminName: string): Promise<number> {
    const result = await this.db
      .deleteFrom('api_sessions')
      .where('admin_name', '=', adminName)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async removeExpired(now: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('api_sessions')
      .where('expires_at', '<=', now.toISOString())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
