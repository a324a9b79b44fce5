// Consistent copies of a live SQLite store: SQLite's online backup API in one step, then a self-contained file.
import { chmodSync, existsSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { FerryError } from '../../errors.js';
import { assertSchemaKnown, type SchemaStatus, schemaStatus } from './schema-version.js';

/** What a store file holds, for a backup's manifest and a restore's report. */
export interface StoreSummary {
  readonly schema: SchemaStatus;
  readonly users: number;
  readonly hostKeys: number;
  readonly clientKeys: number;
  readonly pgpKeys: number;
  readonly partners: number;
  readonly jobs: number;
  readonly auditRecords: number;
  /** Highest audit sequence number (0 without records). */
  readonly auditHeadSeq: number;
}

const COUNTED = {
  users: 'users',
  hostKeys: 'host_keys',
  clientKeys: 'client_keys',
  pgpKeys: 'pgp_keys',
  partners: 'partners',
  jobs: 'transfer_jobs',
  auditRecords: 'audit_log',
} as const;

function count(sqlite: SqliteDatabase.Database, table: string): number {
  const exists = sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  return exists ? (sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n : 0;
}

export async function summarizeStore(sqlite: SqliteDatabase.Database): Promise<StoreSummary> {
  const counts = Object.fromEntries(
    Object.entries(COUNTED).map(([key, table]) => [key, count(sqlite, table)]),
  ) as Record<keyof typeof COUNTED, number>;
  const head =
    counts.auditRecords > 0
      ? (sqlite.prepare('SELECT max(seq) AS seq FROM audit_log').get() as { seq: number }).seq
      : 0;
  return { schema: await schemaStatus(sqlite), ...counts, auditHeadSeq: head };
}

/** Runs SQLite's quick_check; a damaged file is refused rather than backed up or restored. */
export function checkStoreIntegrity(sqlite: SqliteDatabase.Database, file: string): void {
  const result = sqlite.pragma('quick_check', { simple: true });
  if (result !== 'ok')
    throw new FerryError('ERR_IO', `${file} fails SQLite's integrity check: ${String(result)}`);
}

/**
 * Copies the store at `source` into the new file `dest` while servers keep writing to it. The backup API copies
 * every page in a single step, inside one read transaction, so the copy is the database as of one commit (WAL
 * readers do not block writers; a step interrupted by another process's write restarts from the beginning).
 * The copy is switched to rollback-journal mode so it is one self-contained file.
 */
export async function snapshotStore(source: string, dest: string): Promise<StoreSummary> {
  if (existsSync(dest)) throw new FerryError('ERR_ALREADY_EXISTS', `${dest} already exists`);
  const sqlite = new SqliteDatabase(source, { readonly: true, fileMustExist: true });
  try {
    sqlite.pragma('busy_timeout = 5000');
    assertSchemaKnown(source, await schemaStatus(sqlite));
    await sqlite.backup(dest, { progress: () => 0x7fffffff });
  } finally {
    sqlite.close();
  }
  chmodSync(dest, 0o600);
  const copy = new SqliteDatabase(dest, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    checkStoreIntegrity(copy, dest);
    return await summarizeStore(copy);
  } finally {
    copy.close();
  }
}

/** Opens a store file read-only and describes it, after an integrity check. */
export async function inspectStoreFile(file: string): Promise<StoreSummary> {
  const sqlite = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
  try {
    checkStoreIntegrity(sqlite, file);
    return await summarizeStore(sqlite);
  } finally {
    sqlite.close();
  }
}
