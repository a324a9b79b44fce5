// Rules (with the change counter every process polls) and the delivery outbox (claimed under leases) over kysely.
import type { Kysely, Selectable } from 'kysely';
import { FerryError } from '../errors.js';
import type {
  AnyRuleEventName,
  DeliveryAttempt,
  DeliveryQuery,
  DeliveryRecord,
  DeliveryRepository,
  DeliveryStatus,
  HookFailurePolicy,
  NewDelivery,
  RuleDefinition,
  RuleRecord,
  RuleRepository,
} from './automation-types.js';
import type { Database, DeliveriesTable, DeliveryAttemptsTable, RulesTable } from './schema.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

export interface AutomationRepositoryOptions extends WriteTransactionOptions {
  /**
   * Lock the claimed rows so concurrent claimers pass over them (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
   * SQLite has no row locks and needs none: `BEGIN IMMEDIATE` already excludes every other writer.
   */
  readonly skipLocked: boolean;
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** Rows per INSERT of deliveries: 10 columns each, well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 64;
const DEFAULT_LIST_LIMIT = 100;

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
      if (updated) await bumpVersion(trx);
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

type DeliveryRow = Selectable<DeliveriesTable> & { rule_name: string | null };

function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    ruleId: row.rule_id,
    // A removed rule's deliveries stay readable; the name is gone with it.
    ruleName: row.rule_name ?? `(removed rule ${row.rule_id})`,
    actionIndex: row.action_index,
    eventName: row.event_name as AnyRuleEventName,
    fields: JSON.parse(row.fields) as Record<string, string>,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    ...(row.lease_owner !== null ? { leaseOwner: row.lease_owner } : {}),
    ...(row.lease_until !== null ? { leaseUntil: new Date(row.lease_until) } : {}),
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    createdAt: new Date(row.created_at),
    ...(row.finished_at !== null ? { finishedAt: new Date(row.finished_at) } : {}),
  };
}

function toAttempt(row: Selectable<DeliveryAttemptsTable>): DeliveryAttempt {
  return {
    deliveryId: row.delivery_id,
    attempt: row.attempt,
    at: new Date(row.at),
    ok: Boolean(row.ok),
    latencyMs: row.latency_ms,
    ...(row.response_code !== null ? { responseCode: row.response_code } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
    ...(row.output !== null ? { output: row.output } : {}),
  };
}

export class KyselyDeliveryRepository implements DeliveryRepository {
  readonly #db: Kysely<Database>;
  readonly #options: AutomationRepositoryOptions;

  constructor(db: Kysely<Database>, options: AutomationRepositoryOptions) {
    this.#db = db;
    this.#options = options;
  }

  #select(db: Kysely<Database> = this.#db) {
    return db
      .selectFrom('deliveries')
      .leftJoin('rules', 'rules.id', 'deliveries.rule_id')
      .selectAll('deliveries')
      .select('rules.name as rule_name');
  }

  async enqueue(deliveries: readonly NewDelivery[], now: Date): Promise<number> {
    if (deliveries.length === 0) return 0;
    const at = now.toISOString();
    const rows = deliveries.map((d) => ({
      id: d.id,
      rule_id: d.ruleId,
      action_index: d.actionIndex,
      event_name: d.eventName,
      fields: JSON.stringify(d.fields),
      status: 'pending',
      attempts: 0,
      next_attempt_at: at,
      created_at: at,
    }));
    return writeTransaction(this.#db, this.#options, async (trx) => {
      let inserted = 0;
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const result = await trx
          .insertInto('deliveries')
          .values(rows.slice(i, i + INSERT_CHUNK))
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        inserted += Number(result.numInsertedOrUpdatedRows ?? 0);
      }
      return inserted;
    });
  }

  /** Ids of due deliveries: pending and due, or running under a lease that ended (its holder died). */
  #due(db: Kysely<Database>, at: string, limit: number) {
    return db
      .selectFrom('deliveries')
      .select('id')
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'pending'), eb('next_attempt_at', '<=', at)]),
          eb.and([eb('status', '=', 'running'), eb('lease_until', '<', at)]),
        ]),
      )
      .orderBy('next_attempt_at')
      .limit(limit);
  }

  async claim(owner: string, limit: number, now: Date, leaseUntil: Date): Promise<DeliveryRecord[]> {
    const at = now.toISOString();
    // A read first: every process polls about once a second, and an idle outbox must not take the write lock
    // (which the audit writer and every other writer wait for) each time.
    if (!(await this.#due(this.#db, at, 1).executeTakeFirst())) return [];
    const claimed = await writeTransaction(this.#db, this.#options, async (trx) => {
      // One statement shape for both drivers: pick due ids (locked and skipped by others on PostgreSQL), then
      // take them; under SQLite's exclusive write transaction nobody else can pick the same ones.
      const due = this.#due(trx, at, limit).$if(this.#options.skipLocked, (qb) => qb.forUpdate().skipLocked());
      return trx
        .updateTable('deliveries')
        .set((eb) => ({
          status: 'running',
          lease_owner: owner,
          lease_until: leaseUntil.toISOString(),
          attempts: eb('attempts', '+', 1),
        }))
        .where('id', 'in', due)
        .returningAll()
        .execute();
    });
    if (claimed.length === 0) return [];
    const ruleIds = [...new Set(claimed.map((r) => r.rule_id))];
    const names = new Map(
      (await this.#db.selectFrom('rules').select(['id', 'name']).where('id', 'in', ruleIds).execute()).map(
        (r) => [r.id, r.name] as const,
      ),
    );
    return claimed
      .map((row) => toDelivery({ ...row, rule_name: names.get(row.rule_id) ?? null }))
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime());
  }

  async renew(owner: string, ids: readonly string[], leaseUntil: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.#db
      .updateTable('deliveries')
      .set({ lease_until: leaseUntil.toISOString() })
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async finish(
    id: string,
    owner: string,
    attempt: DeliveryAttempt,
    next: { readonly status: 'succeeded' | 'pending' | 'dead'; readonly nextAttemptAt?: Date },
  ): Promise<boolean> {
    return writeTransaction(this.#db, this.#options, async (trx) => {
      await trx
        .insertInto('delivery_attempts')
        .values({
          delivery_id: id,
          attempt: attempt.attempt,
          at: attempt.at.toISOString(),
          ok: attempt.ok ? 1 : 0,
          latency_ms: Math.round(attempt.latencyMs),
          response_code: attempt.responseCode ?? null,
          error: attempt.error ?? null,
          output: attempt.output ?? null,
        })
        .execute();
      const done = next.status !== 'pending';
      const result = await trx
        .updateTable('deliveries')
        .set({
          status: next.status,
          lease_owner: null,
          lease_until: null,
          last_error: attempt.ok ? null : (attempt.error ?? 'failed'),
          finished_at: done ? attempt.at.toISOString() : null,
          ...(next.nextAttemptAt !== undefined ? { next_attempt_at: next.nextAttemptAt.toISOString() } : {}),
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const row = await this.#select().where('deliveries.id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : undefined;
  }

  async list(query: DeliveryQuery): Promise<DeliveryRecord[]> {
    let q = this.#select();
    if (query.rule !== undefined) q = q.where('rules.name', '=', query.rule);
    if (query.status !== undefined) q = q.where('deliveries.status', '=', query.status);
    if (query.failed)
      q = q.where((eb) =>
        eb.or([eb('deliveries.status', '=', 'dead'), eb('deliveries.last_error', 'is not', null)]),
      );
    const rows = await q
      .orderBy('deliveries.created_at', 'desc')
      .orderBy('deliveries.id')
      .limit(query.limit ?? DEFAULT_LIST_LIMIT)
      .execute();
    return rows.map(toDelivery);
  }

  async attempts(id: string): Promise<DeliveryAttempt[]> {
    const rows = await this.#db
      .selectFrom('delivery_attempts')
      .selectAll()
      .where('delivery_id', '=', id)
      .orderBy('id')
      .execute();
    return rows.map(toAttempt);
  }

  async redeliver(id: string, now: Date): Promise<DeliveryRecord | undefined> {
    const result = await this.#db
      .updateTable('deliveries')
      .set({
        status: 'pending',
        attempts: 0,
        next_attempt_at: now.toISOString(),
        lease_owner: null,
        lease_until: null,
        finished_at: null,
      })
      .where('id', '=', id)
      .where('status', '!=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? this.get(id) : undefined;
  }
}
