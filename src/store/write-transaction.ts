// One write transaction that excludes other writers from its first statement, retried while another process holds the lock.
import { setTimeout as delay } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { FerryError } from '../errors.js';
import { CompiledQuery } from './kysely.js';
import type { Database } from './schema.js';

export interface WriteTransactionOptions {
  /**
   * Statements opening the transaction. SQLite: `BEGIN IMMEDIATE` (a deferred BEGIN that reads first fails
   * with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not cover, once another process committed in
   * between). PostgreSQL: `BEGIN` (row locks come from the statements: `FOR UPDATE SKIP LOCKED`).
   */
  readonly beginWrite: readonly string[];
  /** True for the driver's "another writer holds the lock" error, which is retried. */
  readonly isBusy: (err: unknown) => boolean;
}

/** Attempts while another process holds the lock (each also waits the driver's busy timeout). */
const WRITE_ATTEMPTS = 8;

/** Runs `body` in one write transaction on one connection; commits, or rolls back and rethrows. */
export async function writeTransaction<T>(
  db: Kysely<Database>,
  options: WriteTransactionOptions,
  body: (trx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.connection().execute(async (conn) => {
        let open = false;
        try {
          for (const statement of options.beginWrite) {
            await conn.executeQuery(CompiledQuery.raw(statement));
            open = true;
          }
          const result = await body(conn);
          await conn.executeQuery(CompiledQuery.raw('COMMIT'));
          return result;
        } catch (err) {
          if (!open) throw err;
          try {
            await conn.executeQuery(CompiledQuery.raw('ROLLBACK'));
          } catch (rollbackErr) {
            throw new FerryError('ERR_IO', 'store write failed and could not be rolled back', {
              cause: new AggregateError([err, rollbackErr]),
            });
          }
          throw err;
        }
      });
    } catch (err) {
      if (attempt >= WRITE_ATTEMPTS || !options.isBusy(err)) throw err;
      await delay(25 * attempt);
    }
  }
}
