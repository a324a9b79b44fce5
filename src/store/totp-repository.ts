// TOTP secrets (sealed), last accepted step and recovery-code hashes of one kind of account, over kysely.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { TotpRecord, TotpRepository } from './types.js';

/**
 * One implementation for SFTP users (user_totp, keyed by user_name) and API administrators (api_admin_totp, keyed
 * by admin_name): the tables have the same columns apart from the key, so the queries are typed against
 * user_totp and the names swapped in; kysely only quotes them.
 */
export class KyselyTotpRepository implements TotpRepository {
  readonly #table: 'user_totp';
  readonly #key: 'user_name';

  constructor(
    protected readonly db: Kysely<Database>,
    table: 'user_totp' | 'api_admin_totp',
    key: 'user_name' | 'admin_name',
  ) {
    this.#table = table as 'user_totp';
    this.#key = key as 'user_name';
  }

  async getTotp(user: string): Promise<TotpRecord | undefined> {
    const row = await this.db
      .selectFrom(this.#table)
      .selectAll()
      .where(this.#key, '=', user)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      secretSealed: row.secret_sealed,
      lastStep: Number(row.last_step),
      recoveryHashes: JSON.parse(row.recovery_hashes) as string[],
      createdAt: new Date(row.created_at),
    };
  }

  async setTotp(
    user: string,
    totp: { secretSealed: string; recoveryHashes: readonly string[] },
  ): Promise<void> {
    const values = {
      [this.#key]: user,
      secret_sealed: totp.secretSealed,
      last_step: 0,
      recovery_hashes: JSON.stringify(totp.recoveryHashes),
      created_at: new Date().toISOString(),
    };
    await this.db
      .insertInto(this.#table)
      .values(values)
      .onConflict((oc) =>
        oc.column(this.#key).doUpdateSet({
          secret_sealed: values.secret_sealed,
          last_step: 0,
          recovery_hashes: values.recovery_hashes,
          created_at: values.created_at,
        }),
      )
      .execute();
  }

  async removeTotp(user: string): Promise<boolean> {
    const result = await this.db.deleteFrom(this.#table).where(this.#key, '=', user).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async advanceTotpStep(user: string, step: number): Promise<boolean> {
    const result = await this.db
      .updateTable(this.#table)
      .set({ last_step: step })
      .where(this.#key, '=', user)
      .where('last_step', '<', step)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async replaceRecoveryHashes(
    user: string,
    expected: readonly string[],
    next: readonly string[],
  ): Promise<boolean> {
    // The column holds JSON.stringify of the array, so the expected text is exactly what was read.
    const result = await this.db
      .updateTable(this.#table)
      .set({ recovery_hashes: JSON.stringify(next) })
      .where(this.#key, '=', user)
      .where('recovery_hashes', '=', JSON.stringify(expected))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
