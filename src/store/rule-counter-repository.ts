// Counters of counting rules over kysely: a key's recent hits in one row, counted (and fired) in one write transaction.
import type { Kysely } from 'kysely';
import type { CounterHit, CounterOutcome, RuleCounterRepository } from './automation-types.js';
import { insertDeliveries } from './delivery-rows.js';
import type { Database } from './schema.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

export interface RuleCounterRepositoryOptions extends WriteTransactionOptions {
  /**
   * Lock a key's row while it is counted (PostgreSQL: `FOR UPDATE`, so two nodes counting one user wait for each
   * other). SQLite has no row locks and needs none: `BEGIN IMMEDIATE` already excludes every other writer.
   */
  readonly lockRows: boolean;
}

/** The stored hit times; a damaged value counts as none rather than stopping every later count of the key. */
function parseHits(text: string): number[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((t): t is number => Number.isFinite(t)) : [];
  } catch {
    return [];
  }
}

export class KyselyRuleCounterRepository implements RuleCounterRepository {
  readonly #db: Kysely<Database>;
  readonly #options: RuleCounterRepositoryOptions;

  constructor(db: Kysely<Database>, options: RuleCounterRepositoryOptions) {
    this.#db = db;
    this.#options = options;
  }

  async record(hits: readonly CounterHit[], now: Date): Promise<CounterOutcome[]> {
    if (hits.length === 0) return [];
    return writeTransaction(this.#db, this.#options, async (trx) => {
      const outcomes: CounterOutcome[] = [];
      // In order: the fifth failure of a batch sees the four before it.
      for (const hit of hits) outcomes.push(await this.#count(trx, hit, now));
      return outcomes;
    });
  }

  async keys(ruleId: number): Promise<number> {
    const row = await this.#db
      .selectFrom('rule_counters')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('rule_id', '=', ruleId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async #count(trx: Kysely<Database>, hit: CounterHit, now: Date): Promise<CounterOutcome> {
    const at = hit.at.getTime();
    const cutoff = at - hit.withinMs;
    const lastAt = hit.at.toISOString();
    // Insert-then-lock, not read-then-insert: on PostgreSQL two nodes seeing a new key at once must not both
    // insert it (one would fail); here the second waits for the first's row. The row may be gone once the lock
    // is ours (the other node's hit fired and deleted it): then the key is new again, so round once more.
    let evicted = 0;
    let row: { hits: string } | undefined;
    while (!row) {
      const created = await trx
        .insertInto('rule_counters')
        .values({ rule_id: hit.ruleId, key: hit.key, hits: '[]', last_at: lastAt })
        .onConflict((oc) => oc.columns(['rule_id', 'key']).doNothing())
        .executeTakeFirst();
      if (Number(created.numInsertedOrUpdatedRows ?? 0) > 0)
        evicted += await this.#makeRoom(trx, hit, cutoff);
      row = await trx
        .selectFrom('rule_counters')
        .select('hits')
        .where('rule_id', '=', hit.ruleId)
        .where('key', '=', hit.key)
        .$if(this.#options.lockRows, (qb) => qb.forUpdate())
        .executeTakeFirst();
    }
    const times = parseHits(row.hits).filter((t) => t > cutoff);
    times.push(at);
    times.sort((a, b) => a - b);
    if (times.length >= hit.atLeast) {
      await trx
        .deleteFrom('rule_counters')
        .where('rule_id', '=', hit.ruleId)
        .where('key', '=', hit.key)
        .execute();
      await insertDeliveries(trx, hit.fire(times.length, new Date(times[0] ?? at)), now);
      return { count: times.length, fired: true, evicted };
    }
    await trx
      .updateTable('rule_counters')
      .set({ hits: JSON.stringify(times), last_at: new Date(times.at(-1) ?? at).toISOString() })
      .where('rule_id', '=', hit.ruleId)
      .where('key', '=', hit.key)
      .execute();
    return { count: times.length, fired: false, evicted };
  }

  /**
   * A key new to its rule: first the rule's keys whose newest hit is out of the window go (they could never
   * count again), then, past `maxKeys`, the least recently hit others. Returns how many were dropped by the cap.
   */
  async #makeRoom(trx: Kysely<Database>, hit: CounterHit, cutoff: number): Promise<number> {
    await trx
      .deleteFrom('rule_counters')
      .where('rule_id', '=', hit.ruleId)
      .where('last_at', '<=', new Date(cutoff).toISOString())
      .execute();
    const row = await trx
      .selectFrom('rule_counters')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('rule_id', '=', hit.ruleId)
      .executeTakeFirst();
    const excess = Number(row?.n ?? 0) - Math.max(1, hit.maxKeys);
    if (excess <= 0) return 0;
    const oldest = trx
      .selectFrom('rule_counters')
      .select('key')
      .where('rule_id', '=', hit.ruleId)
      .where('key', '!=', hit.key)
      .orderBy('last_at')
      .orderBy('key')
      .limit(excess);
    const result = await trx
      .deleteFrom('rule_counters')
      .where('rule_id', '=', hit.ruleId)
      .where('key', 'in', oldest)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
