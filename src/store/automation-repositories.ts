// Rules over kysely, with the change counter every process polls; the delivery outbox is in delivery-repository.ts.
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import type {
  AnyRuleEventName,
  HookFailurePolicy,
  RuleDefinition,
  RuleRecord,
  RuleRepository,
} from './automation-types.js';
import { isUniqueViolation } from './named-records.js';
import type { Database, RulesTable } from './schema.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

function toRule(row: Selectable<RulesTable>): RuleRecord {
  return {
    id: row.id,
    name: row.name,
    ...(row.description !== null ? { description: row.description } : {}),
    enabled: Boolean(row.enabled),
    events: JSON.parse(row.events) as AnyRuleEventName[],
    conditions: JSON.parse(row.conditions) as RuleDefinition['conditions'],
    actions: JSON.parse(row.actions) as RuleDefinition['actions'],
    ...(row.schedule !== null ? { schedule: row.schedule } : {}),
    ...(row.hook_timeout_ms !== null ? { hookTimeoutMs: row.hook_timeout_ms } : {}),
    ...(row.on_hook_failure !== null ? { onHookFailure: row.on_hook_failure as HookFailurePolicy } : {}),
    ...(row.max_attempts !== null ? { maxAttempts: row.max_attempts } : {}),
    hasSecret: row.secret_sealed !== null,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

/** The definition's columns (not the name, the secret or the times). */
function definitionColumns(rule: RuleDefinition) {
  return {
    description: rule.description ?? null,
    enabled: rule.enabled ? 1 : 0,
    events: JSON.stringify(rule.events),
    conditions: JSON.stringify(rule.conditions ?? {}),
    actions: JSON.stringify(rule.actions),
    schedule: rule.schedule ?? null,
    hook_timeout_ms: rule.hookTimeoutMs ?? null,
    on_hook_failure: rule.onHookFailure ?? null,
    max_attempts: rule.maxAttempts ?? null,
  };
}

async function bumpVersion(trx: Kysely<Database>): Promise<void> {
  await trx
    .updateTable('rule_version')
    .set((eb) => ({ version: eb('version', '+', 1) }))
    .where('id', '=', 1)
    .execute();
}

export class KyselyRuleRepository implements RuleRepository {
  readonly #db: Kysely<Database>;
  readonly #options: WriteTransactionOptions;

  constructor(db: Kysely<Database>, options: WriteTransactionOptions) {
    this.#db = db;
    this.#options = options;
  }

  async create(rule: RuleDefinition, secretSealed?: string | null): Promise<RuleRecord> {
    const now = new Date().toISOString();
    try {
      const row = await writeTransaction(this.#db, this.#options, async (trx) => {
        const inserted = await trx
          .insertInto('rules')
          .values({
            name: rule.name,
            ...definitionColumns(rule),
            secret_sealed: secretSealed ?? null,
            created_at: now,
            updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await bumpVersion(trx);
        return inserted;
      });
      return toRule(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `rule ${rule.name} already exists`);
      throw err;
    }
  }

  async get(name: string): Promise<RuleRecord | undefined> {
    const row = await this.#db.selectFrom('rules').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toRule(row) : undefined;
  }

  async getById(id: number): Promise<RuleRecord | undefined> {
    const row = await this.#db.selectFrom('rules').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRule(row) : undefined;
  }

  async list(): Promise<RuleRecord[]> {
    return (await this.#db.selectFrom('rules').selectAll().orderBy('name').execute()).map(toRule);
  }

  async update(
    name: string,
    rule: RuleDefinition,
    secretSealed?: string | null,
  ): Promise<RuleRecord | undefined> {
    const row = await writeTransaction(this.#db, this.#options, async (trx) => {
      const before = await trx
        .selectFrom('rules')
        .select('conditions')
        .where('name', '=', name)
        .executeTakeFirst();
      const updated = await trx
        .updateTable('rules')
        .set({
          ...definitionColumns(rule),
          ...(secretSealed !== undefined ? { secret_sealed: secretSealed } : {}),
          updated_at: new Date().toISOString(),
        })
        .where('name', '=', name)
        .returningAll()
        .executeTakeFirst();
      if (!updated) return updated;
      await bumpVersion(trx);
      // Changed conditions count from zero: a count kept across a new window, key or filter would mean neither.
      if (before?.conditions !== updated.conditions)
        await trx.deleteFrom('rule_counters').where('rule_id', '=', updated.id).execute();
      return updated;
    });
    return row ? toRule(row) : undefined;
  }

  async remove(name: string): Promise<boolean> {
    return writeTransaction(this.#db, this.#options, async (trx) => {
      const result = await trx.deleteFrom('rules').where('name', '=', name).executeTakeFirst();
      const removed = Number(result.numDeletedRows) > 0;
      if (removed) await bumpVersion(trx);
      return removed;
    });
  }

  async sealedSecret(id: number): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('rules')
      .select('secret_sealed')
      .where('id', '=', id)
      .executeTakeFirst();
    return row?.secret_sealed ?? undefined;
  }

  async version(): Promise<number> {
    const row = await this.#db
      .selectFrom('rule_version')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirst();
    return Number(row?.version ?? 0);
  }
}

export { type DeliveryRepositoryOptions, KyselyDeliveryRepository } from './delivery-repository.js';
