// The column types of each store dialect, which every migration builds its tables with.
import type { ColumnDefinitionBuilder, Expression } from 'kysely';
import { sql } from './kysely.js';

export type StoreDialect = 'sqlite' | 'postgres';

/**
 * The column types of one dialect. Both keep the representation the repositories read and write, so the
 * repositories stay one dialect-neutral code: times are ISO-8601 UTC text (they sort as text, and every
 * comparison in the repositories is between such strings), flags are 0/1 integers. On PostgreSQL, integers
 * are `bigint` (sizes and byte counts pass 2^31; the driver reads them back as numbers), ids are identity
 * columns, and text compares byte-wise (`COLLATE "C"`) like SQLite, whatever the database's locale, so
 * listings and keyset pages come out in the same order on both.
 */
export interface ColumnTypes {
  readonly int: 'integer' | 'bigint';
  readonly real: 'real' | 'double precision';
  readonly text: 'text' | Expression<unknown>;
  /** An id the database assigns. */
  readonly identity: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
  /** The current time as ISO-8601 UTC text. */
  readonly now: Expression<unknown>;
}

export const COLUMN_TYPES: Readonly<Record<StoreDialect, ColumnTypes>> = {
  sqlite: {
    int: 'integer',
    real: 'real',
    text: 'text',
    identity: (c) => c.primaryKey().autoIncrement(),
    now: sql`CURRENT_TIMESTAMP`,
  },
  postgres: {
    int: 'bigint',
    real: 'double precision',
    text: sql`text collate "C"`,
    identity: (c) => c.primaryKey().generatedByDefaultAsIdentity(),
    now: sql`to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  },
};
