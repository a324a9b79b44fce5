// For child-process test fixtures: opens the store a location names (a postgres:// URL or a SQLite file).
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

export function openStoreAt(location: string): Promise<Store> {
  return /^postgres(ql)?:\/\//.test(location) ? openPostgresStore(location) : openSqliteStore(location);
}
