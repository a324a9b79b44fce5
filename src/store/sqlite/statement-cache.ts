// Prepared statements reused by SQL text: kysely's SQLite driver prepares every query afresh, which costs more than
// running most of ours (a claim, an audit append); the same query shapes recur, so a bounded LRU keeps them.
import type SqliteDatabase from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely';

/** Distinct statements kept; `IN (...)` lists of every length make distinct texts, so the cache is bounded. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 256;

export interface CachingDatabase extends KyselySqliteDatabase {
  /** Statements held now (tests and diagnostics). */
  readonly cachedStatements: number;
}

/**
 * The database as kysely's SqliteDialect sees it, with `prepare` answered from a cache of at most `capacity`
 * statements, least recently used evicted first. A statement still iterating (a streamed select) is busy and
 * cannot run a second query: such a request gets a fresh, uncached statement. SQLite re-prepares a cached
 * statement by itself when the schema changed under it (a migration), so results stay correct.
 */
export function cachingDatabase(
  db: SqliteDatabase.Database,
  capacity: number = DEFAULT_STATEMENT_CACHE_SIZE,
): CachingDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const limit = Math.max(1, capacity);
  return {
    get cachedStatements() {
      return cache.size;
    },
    prepare(sql: string) {
      const cached = cache.get(sql);
      if (cached) {
        if (cached.busy) return db.prepare(sql);
        // Map keeps insertion order: moving the hit to the end makes the first key the least recently used.
        cache.delete(sql);
        cache.set(sql, cached);
        return cached;
      }
      const statement = db.prepare(sql);
      cache.set(sql, statement);
      if (cache.size > limit) cache.delete(cache.keys().next().value as string);
      return statement;
    },
    close() {
      cache.clear();
      db.close();
    },
  };
}
