// kysely's runtime values, required as CommonJS: its ES build is ~280 files, which ESM loads measurably slower
// (resolve, link and evaluate each) on every `ferry` command that opens the store. Types still come from 'kysely'.
import { createRequire } from 'node:module';

const kysely = createRequire(import.meta.url)('kysely') as typeof import('kysely');

export const { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, sql } = kysely;
