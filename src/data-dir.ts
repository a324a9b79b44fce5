// The data dir: where its files are, and the checks that refuse a missing or uninitialised one (a mistyped
// --data-dir must be an error, not a new empty store).
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ANCHOR_LOG_NAME } from './audit/anchors.js';
import { ConfigError } from './errors.js';

export interface DataPaths {
  readonly database: string;
  readonly masterKey: string;
  readonly homes: string;
  /** Every signed audit checkpoint, one JSON line each (append-only; copy or forward it elsewhere). */
  readonly auditAnchors: string;
}

/** The data dir's files; `database` is where a SQLite store lives unless `store.url` names another file. */
export function dataPaths(dataDir: string, database: string = join(dataDir, 'ferry.db')): DataPaths {
  return {
    database,
    masterKey: join(dataDir, 'master.key'),
    homes: join(dataDir, 'homes'),
    auditAnchors: join(dataDir, ANCHOR_LOG_NAME),
  };
}

/**
 * How a command uses the data dir. Only `create` (serve, init) may make a data dir and a new store; `write`
 * and `read` need an initialised one, so a mistyped --data-dir is an error instead of a new empty store.
 * `read` opens the store read-only (a backup on a read-only mount can be inspected) and never creates a key.
 */
export type DataDirAccess = 'create' | 'write' | 'read';

const WHERE_FROM = 'check --data-dir / FERRY_DATA_DIR / dataDir';

/** Makes the data dir (mode 0700) unless it exists. One level only: a missing parent is a typo, not a request. */
export function createDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dataDir).isDirectory()) return;
    throw new ConfigError(
      code === 'ENOENT'
        ? `cannot create data dir ${dataDir}: its parent ${dirname(dataDir)} does not exist (${WHERE_FROM}, or create the parent first)`
        : code === 'EEXIST'
          ? `data dir ${dataDir} exists and is not a directory (${WHERE_FROM})`
          : `cannot create data dir ${dataDir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** True when `dataDir` holds a Ferry store (or the SQLite file `database` exists). */
export function isInitialisedDataDir(dataDir: string, database = dataPaths(dataDir).database): boolean {
  return existsSync(database);
}

/**
 * Refuses a data dir that does not exist. With a PostgreSQL store that is all a command needs of it (the master
 * key and the audit anchors stay in the data dir; the store is the server's).
 */
export function requireDataDir(dataDir: string): void {
  const fix = `${WHERE_FROM}, or create one with: ferry init --data-dir ${dataDir}`;
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dataDir).isDirectory();
  } catch {
    throw new ConfigError(`data dir ${dataDir} does not exist; ${fix}`);
  }
  if (!isDirectory) throw new ConfigError(`data dir ${dataDir} is not a directory; ${WHERE_FROM}`);
}

/** Refuses a data dir without a store, naming it and how to make one. */
export function requireInitialisedDataDir(dataDir: string, database = dataPaths(dataDir).database): void {
  const fix = `${WHERE_FROM}, or create one with: ferry init --data-dir ${dataDir}`;
  requireDataDir(dataDir);
  if (!isInitialisedDataDir(dataDir, database))
    throw new ConfigError(`${dataDir} is not an initialised Ferry data dir (no ${database}); ${fix}`);
}
