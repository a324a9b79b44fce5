// What the kysely repositories share: telling a uniqueness violation on either dialect, finding a row's id by
// name, and the records known by a unique name (groups, virtual folders) that are created, found, listed,
// changed, and removed only while nothing refers to them.
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import type { Database } from './schema.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

type Db = Kysely<Database>;

/** A unique or primary-key constraint refused the write (SQLite's codes, PostgreSQL's 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

const NOUNS = { users: 'user', groups: 'group', folders: 'folder' } as const;

/** The id of the user, group or folder with this name; ERR_NOT_FOUND naming it when there is none. */
export async function idOf(db: Db, table: keyof typeof NOUNS, name: string): Promise<number> {
  const row = await db.selectFrom(table).select('id').where('name', '=', name).executeTakeFirst();
  if (!row) throw new FerryError('ERR_NOT_FOUND', `no ${NOUNS[table]} named ${name}`);
  return Number(row.id);
}

type NamedTable = 'groups' | 'folders';

export interface NamedRecordsOptions<T extends NamedTable, R> {
  readonly table: T;
  readonly toRecord: (row: Selectable<Database[T]>) => R;
  /** The rows that refer to a record and keep it from being removed, and the refusal naming how many. */
  readonly usedBy: {
    readonly table: 'user_groups' | 'folder_mounts';
    readonly column: 'group_id' | 'folder_id';
    readonly refusal: (name: string, count: number) => string;
  };
}

/** Create, find, list, update and remove of one table's records by their unique name. */
export class NamedRecords<T extends NamedTable, R> {
  readonly #db: Db;
  readonly #o: NamedRecordsOptions<T, R>;
  /** A removal reads what refers to the record before it deletes: one write transaction. */
  readonly #writes: WriteTransactionOptions;

  constructor(db: Db, writes: WriteTransactionOptions, options: NamedRecordsOptions<T, R>) {
    this.#db = db;
    this.#writes = writes;
    this.#o = options;
  }

  /** A new record with these columns (as stored); ERR_ALREADY_EXISTS when the name is taken. */
  async create(name: string, columns: Record<string, unknown>): Promise<R> {
    const now = new Date().toISOString();
    try {
      await this.#db
        .insertInto(this.#o.table)
        .values({ ...columns, name, created_at: now, updated_at: now } as never)
        .execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `${NOUNS[this.#o.table]} ${name} already exists`);
      throw err;
    }
    return (await this.findByName(name))!;
  }

  async findByName(name: string): Promise<R | undefined> {
    const row = await this.#db
      .selectFrom(this.#o.table as NamedTable)
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? this.#o.toRecord(row as Selectable<Database[T]>) : undefined;
  }

  async list(): Promise<R[]> {
    const rows = await this.#db
      .selectFrom(this.#o.table as NamedTable)
      .selectAll()
      .orderBy('name')
      .execute();
    return rows.map((row) => this.#o.toRecord(row as Selectable<Database[T]>));
  }

  /** Sets these columns (and the change time); undefined when there is no record of that name. */
  async update(name: string, columns: Record<string, unknown>): Promise<R | undefined> {
    const result = await this.#db
      .updateTable(this.#o.table as NamedTable)
      .set({ ...columns, updated_at: new Date().toISOString() } as never)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return undefined;
    return this.findByName(name);
  }

  /** Removes it unless something still refers to it (ERR_INVALID_ARGUMENT saying what); false when none exists. */
  async remove(name: string): Promise<boolean> {
    const { table, usedBy } = this.#o;
    return writeTransaction(this.#db, this.#writes, async (trx) => {
      const row = await trx
        .selectFrom(table as NamedTable)
        .select('id')
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) return false;
      const uses = await trx
        .selectFrom(usedBy.table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where(usedBy.column as never, '=', row.id as never)
        .executeTakeFirstOrThrow();
      if (Number(uses.n) > 0)
        throw new FerryError('ERR_INVALID_ARGUMENT', usedBy.refusal(name, Number(uses.n)));
      await trx
        .deleteFrom(table as NamedTable)
        .where('id', '=', row.id)
        .execute();
      return true;
    });
  }
}
