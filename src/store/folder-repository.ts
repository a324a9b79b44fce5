// FolderRepository over kysely: virtual folders, their usage and their mounts, the same queries on SQLite and PostgreSQL.
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import type { Permission } from '../permission-vocabulary.js';
import type {
  FolderMapping,
  FolderOwner,
  FolderPatch,
  FolderRecord,
  FolderRepository,
  NewFolder,
} from './folder-types.js';
import { sql } from './kysely.js';
import { idOf, NamedRecords } from './named-records.js';
import type { Database, FoldersTable } from './schema.js';
import { shapesOf, slot } from './statement-shapes.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

type Db = Kysely<Database>;

function toFolder(row: Selectable<FoldersTable>): FolderRecord {
  return {
    id: Number(row.id),
    name: row.name,
    path: row.path,
    description: row.description,
    quotaBytes: Number(row.quota_bytes),
    quotaFiles: Number(row.quota_files),
    usedBytes: Number(row.used_bytes),
    usedFiles: Number(row.used_files),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

function columnsOf(patch: FolderPatch): Partial<Record<keyof FoldersTable, unknown>> {
  const v: Partial<Record<keyof FoldersTable, unknown>> = {};
  if (patch.path !== undefined) v.path = patch.path;
  if (patch.description !== undefined) v.description = patch.description;
  if (patch.quotaBytes !== undefined) v.quota_bytes = patch.quotaBytes;
  if (patch.quotaFiles !== undefined) v.quota_files = patch.quotaFiles;
  return v;
}

const ownerColumn = (owner: FolderOwner) => (owner.kind === 'user' ? 'user_id' : 'group_id');

export class KyselyFolderRepository implements FolderRepository {
  readonly #db: Db;
  readonly #records: NamedRecords<'folders', FolderRecord>;
  /** A mount reads the ids before it writes: one write transaction. */
  readonly #writes: WriteTransactionOptions;

  constructor(db: Db, writes: WriteTransactionOptions) {
    this.#db = db;
    this.#writes = writes;
    this.#records = new NamedRecords(db, writes, {
      table: 'folders',
      toRecord: toFolder,
      usedBy: {
        table: 'folder_mounts',
        column: 'folder_id',
        refusal: (name, n) =>
          `folder ${name} is still mounted ${n} time(s): unmount it from its users and groups first`,
      },
    });
  }

  create(folder: NewFolder): Promise<FolderRecord> {
    return this.#records.create(folder.name, columnsOf(folder));
  }

  findByName(name: string): Promise<FolderRecord | undefined> {
    return this.#records.findByName(name);
  }

  list(): Promise<FolderRecord[]> {
    return this.#records.list();
  }

  update(name: string, patch: FolderPatch): Promise<FolderRecord | undefined> {
    return this.#records.update(name, columnsOf(patch));
  }

  remove(name: string): Promise<boolean> {
    return this.#records.remove(name);
  }

  async changeUsage(name: string, bytes: number, files: number): Promise<boolean> {
    // One statement, so concurrent uploads of several processes cannot both take the last bytes. The bare
    // parameters are cast: PostgreSQL would type `$1 <= 0` as a 32-bit integer and refuse a change of 2 GiB.
    const delta = sql`CAST(${bytes} AS BIGINT)`;
    const count = sql`CAST(${files} AS BIGINT)`;
    const result = await sql`
      UPDATE folders SET
        used_bytes = CASE WHEN used_bytes + ${delta} < 0 THEN 0 ELSE used_bytes + ${delta} END,
        used_files = CASE WHEN used_files + ${count} < 0 THEN 0 ELSE used_files + ${count} END
      WHERE name = ${name}
        AND (${delta} <= 0 OR quota_bytes = 0 OR used_bytes + ${delta} <= quota_bytes)
        AND (${count} <= 0 OR quota_files = 0 OR used_files + ${count} <= quota_files)`.execute(this.#db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  async setUsage(name: string, bytes: number, files: number): Promise<void> {
    await this.#db
      .updateTable('folders')
      .set({ used_bytes: bytes, used_files: files })
      .where('name', '=', name)
      .execute();
  }

  async mount(
    owner: FolderOwner,
    folder: string,
    virtualPath: string,
    permissions: readonly Permission[],
  ): Promise<void> {
    await writeTransaction(this.#db, this.#writes, async (trx) => {
      const folderId = await idOf(trx, 'folders', folder);
      const ownerId = await idOf(trx, owner.kind === 'user' ? 'users' : 'groups', owner.name);
      const column = ownerColumn(owner);
      await trx
        .deleteFrom('folder_mounts')
        .where(column, '=', ownerId)
        .where('virtual_path', '=', virtualPath)
        .execute();
      await trx
        .insertInto('folder_mounts')
        .values({
          folder_id: folderId,
          user_id: owner.kind === 'user' ? ownerId : null,
          group_id: owner.kind === 'group' ? ownerId : null,
          virtual_path: virtualPath,
          permissions: JSON.stringify(permissions),
        })
        .execute();
    });
  }

  async unmount(owner: FolderOwner, virtualPath: string): Promise<boolean> {
    const ownerId = await idOf(this.#db, owner.kind === 'user' ? 'users' : 'groups', owner.name);
    const result = await this.#db
      .deleteFrom('folder_mounts')
      .where(ownerColumn(owner), '=', ownerId)
      .where('virtual_path', '=', virtualPath)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async mountsOf(owner: FolderOwner): Promise<FolderMapping[]> {
    // Read at every login (the effective user): compiled shapes (statement-shapes.ts), one pair per owner kind.
    const db = this.#db;
    const shapes = shapesOf(db);
    const {
      rows: [ownerRow],
    } = await shapes.run(
      db,
      `folders.owner-id:${owner.kind}`,
      () =>
        db
          .selectFrom(owner.kind === 'user' ? 'users' : 'groups')
          .select('id')
          .where('name', '=', slot(0)),
      [owner.name],
    );
    if (!ownerRow) return [];
    const { rows } = await shapes.run(
      db,
      `folders.mounts-of:${owner.kind}`,
      () =>
        db
          .selectFrom('folder_mounts')
          .innerJoin('folders', 'folders.id', 'folder_mounts.folder_id')
          .selectAll('folders')
          .select(['folder_mounts.virtual_path as virtual_path', 'folder_mounts.permissions as permissions'])
          .where(ownerColumn(owner), '=', slot(0))
          .orderBy('folder_mounts.virtual_path'),
      [Number(ownerRow.id)],
    );
    return rows.map((r) => ({
      folder: toFolder(r),
      owner,
      virtualPath: r.virtual_path,
      permissions: JSON.parse(r.permissions) as Permission[],
    }));
  }

  async mountsOfFolder(name: string): Promise<FolderMapping[]> {
    const folder = await this.findByName(name);
    if (!folder) throw new FerryError('ERR_NOT_FOUND', `no folder named ${name}`);
    const rows = await this.#db
      .selectFrom('folder_mounts')
      .leftJoin('users', 'users.id', 'folder_mounts.user_id')
      .leftJoin('groups', 'groups.id', 'folder_mounts.group_id')
      .select([
        'users.name as user_name',
        'groups.name as group_name',
        'folder_mounts.virtual_path as virtual_path',
        'folder_mounts.permissions as permissions',
      ])
      .where('folder_mounts.folder_id', '=', folder.id)
      .orderBy('folder_mounts.id')
      .execute();
    return rows.map((r) => ({
      folder,
      owner:
        r.user_name !== null
          ? { kind: 'user', name: r.user_name }
          : { kind: 'group', name: r.group_name ?? '' },
      virtualPath: r.virtual_path,
      permissions: JSON.parse(r.permissions) as Permission[],
    }));
  }
}
