// The delivery outbox over kysely: enqueued before an operation is acknowledged, claimed under leases, finished in groups.
import type { Kysely, Selectable } from 'kysely';
import type {
  DeliveryAttempt,
  DeliveryClaim,
  DeliveryFinish,
  DeliveryNext,
  DeliveryQuery,
  DeliveryRecord,
  DeliveryRepository,
  NewDelivery,
} from './automation-types.js';
import { finishDeliveries } from './delivery-finish.js';
import {
  CLAIMED_COLUMNS,
  deliveryRuleName,
  INSERT_CHUNK,
  insertDeliveries,
  toAttempt,
  toDelivery,
} from './delivery-rows.js';
import type { Database, DeliveriesTable } from './schema.js';
import { rowValues, shapesOf, slot, slotRows, slots } from './statement-shapes.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

export interface DeliveryRepositoryOptions extends WriteTransactionOptions {
  /**
   * Lock the claimed rows so concurrent claimers pass over them (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
   * SQLite has no row locks and needs none: `BEGIN IMMEDIATE` already excludes every other writer.
   */
  readonly skipLocked: boolean;
}

const DEFAULT_LIST_LIMIT = 100;

export class KyselyDeliveryRepository implements DeliveryRepository {
  readonly #db: Kysely<Database>;
  readonly #options: DeliveryRepositoryOptions;

  constructor(db: Kysely<Database>, options: DeliveryRepositoryOptions) {
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
    return writeTransaction(this.#db, this.#options, (trx) => insertDeliveries(trx, deliveries, now));
  }

  async enqueueClaimed(
    deliveries: readonly NewDelivery[],
    now: Date,
    claim: DeliveryClaim,
  ): Promise<{ inserted: number; claimed: DeliveryRecord[] }> {
    if (deliveries.length === 0) return { inserted: 0, claimed: [] };
    const at = now.toISOString();
    const leaseUntil = claim.leaseUntil.toISOString();
    const taken = deliveries.slice(0, Math.max(0, claim.limit));
    const rows = taken.map((d) => ({
      id: d.id,
      rule_id: d.ruleId,
      action_index: d.actionIndex,
      event_name: d.eventName,
      fields: JSON.stringify(d.fields),
      status: 'running',
      attempts: 1,
      lease_owner: claim.owner,
      lease_until: leaseUntil,
      next_attempt_at: at,
      created_at: at,
    }));
    const { ours, pending } = await writeTransaction(this.#db, this.#options, async (trx) => {
      const ours: NewDelivery[] = [];
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        const chunk = rows.slice(i, i + INSERT_CHUNK);
        const given = taken.slice(i, i + INSERT_CHUNK);
        // Only the ids come back (a row whose id existed is not among them): the records are built from what was
        // given, without reading the rows back nor parsing their fields again.
        const { rows: stored } = await shapesOf(trx).run(
          trx,
          `deliveries.insert-claimed:${chunk.length}`,
          () =>
            trx
              .insertInto('deliveries')
              .values(slotRows(CLAIMED_COLUMNS, chunk.length))
              .onConflict((oc) => oc.column('id').doNothing())
              .returning('id'),
          rowValues(CLAIMED_COLUMNS, chunk),
        );
        const ids = new Set(stored.map((r) => r.id));
        ours.push(...given.filter((d) => ids.has(d.id)));
      }
      const pending = await insertDeliveries(trx, deliveries.slice(taken.length), now);
      return { ours, pending };
    });
    const names = await this.#ruleNames(ours, claim.ruleName);
    const claimed = ours.map(
      (d): DeliveryRecord => ({
        id: d.id,
        ruleId: d.ruleId,
        ruleName: deliveryRuleName(d.ruleId, names.get(d.ruleId)),
        actionIndex: d.actionIndex,
        eventName: d.eventName,
        fields: d.fields,
        status: 'running',
        attempts: 1,
        nextAttemptAt: now,
        leaseOwner: claim.owner,
        leaseUntil: claim.leaseUntil,
        createdAt: now,
      }),
    );
    return { inserted: ours.length + pending, claimed };
  }

  /** The names of the rules of `deliveries`: as the caller knows them, the rest read in one query. */
  async #ruleNames(
    deliveries: readonly Pick<NewDelivery, 'ruleId'>[],
    known: ((ruleId: number) => string | undefined) | undefined,
  ): Promise<Map<number, string>> {
    const names = new Map<number, string>();
    const unknown = new Set<number>();
    for (const d of deliveries) {
      if (names.has(d.ruleId)) continue;
      const name = known?.(d.ruleId);
      if (name === undefined) unknown.add(d.ruleId);
      else names.set(d.ruleId, name);
    }
    if (unknown.size === 0) return names;
    const db = this.#db;
    const ids = [...unknown];
    const { rows } = await shapesOf(db).run(
      db,
      `rules.names:${ids.length}`,
      () => db.selectFrom('rules').select(['id', 'name']).where('id', 'in', slots(0, ids.length)),
      ids,
    );
    for (const row of rows) names.set(row.id, row.name);
    return names;
  }

  /** Claimed rows as records, with their rules' names (one read for all). */
  async #withRuleNames(rows: readonly Selectable<DeliveriesTable>[]): Promise<DeliveryRecord[]> {
    if (rows.length === 0) return [];
    const names = await this.#ruleNames(
      rows.map((r) => ({ ruleId: r.rule_id })),
      undefined,
    );
    return rows
      .map((row) => toDelivery({ ...row, rule_name: names.get(row.rule_id) ?? null }))
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime());
  }

  /**
   * Ids of due deliveries: pending and due, or running under a lease that ended (its holder died). A shape: the
   * time is value 0, the limit value 1.
   */
  #due(db: Kysely<Database>) {
    const at = slot<string>(0);
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
      .limit(slot(1));
  }

  async claim(owner: string, limit: number, now: Date, leaseUntil: Date): Promise<DeliveryRecord[]> {
    const at = now.toISOString();
    const db = this.#db;
    // A read first: every process polls about once a second, and an idle outbox must not take the write lock
    // (which the audit writer and every other writer wait for) each time.
    const { rows: due } = await shapesOf(db).run(db, 'deliveries.due', () => this.#due(db), [at, 1]);
    if (due.length === 0) return [];
    const claimed = await writeTransaction(this.#db, this.#options, async (trx) => {
      // One statement shape for both drivers: pick due ids (locked and skipped by others on PostgreSQL), then
      // take them; under SQLite's exclusive write transaction nobody else can pick the same ones.
      const { rows } = await shapesOf(trx).run(
        trx,
        'deliveries.claim',
        () =>
          trx
            .updateTable('deliveries')
            .set((eb) => ({
              status: 'running',
              lease_owner: slot(2),
              lease_until: slot(3),
              attempts: eb('attempts', '+', 1),
            }))
            .where(
              'id',
              'in',
              this.#due(trx).$if(this.#options.skipLocked, (qb) => qb.forUpdate().skipLocked()),
            )
            .returningAll(),
        [at, limit, owner, leaseUntil.toISOString()],
      );
      return rows;
    });
    return this.#withRuleNames(claimed);
  }

  async renew(owner: string, ids: readonly string[], leaseUntil: Date): Promise<number> {
    if (ids.length === 0) return 0;
    // Every third of a lease (20 s by default), with every running id: not hot, and a shape per list length
    // would only crowd the hot ones out of the cache.
    const result = await this.#db
      .updateTable('deliveries')
      .set({ lease_until: leaseUntil.toISOString() })
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async release(owner: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    // At a stop, with the held ids: rare, so no shape per list length.
    const result = await this.#db
      .updateTable('deliveries')
      .set((eb) => ({
        status: 'pending',
        lease_owner: null,
        lease_until: null,
        attempts: eb('attempts', '-', 1),
      }))
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async finish(id: string, owner: string, attempt: DeliveryAttempt, next: DeliveryNext): Promise<boolean> {
    return (await this.finishMany(owner, [{ id, attempt, next }])).length > 0;
  }

  async finishMany(owner: string, items: readonly DeliveryFinish[]): Promise<string[]> {
    if (items.length === 0) return [];
    const finishedAt = new Date().toISOString();
    return writeTransaction(this.#db, this.#options, (trx) =>
      finishDeliveries(trx, owner, items, finishedAt),
    );
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
    const after = query.after;
    const oldestFirst = query.oldestFirst === true;
    if (after) {
      const at = after.createdAt.toISOString();
      q = q.where((eb) =>
        eb.or([
          eb('deliveries.created_at', oldestFirst ? '>' : '<', at),
          eb.and([eb('deliveries.created_at', '=', at), eb('deliveries.id', '>', after.id)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('deliveries.created_at', oldestFirst ? 'asc' : 'desc')
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

  async prune(finishedBefore: Date, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const before = finishedBefore.toISOString();
    // One bounded batch per call, so uploads' commits wait for the write lock a few milliseconds at most. A
    // delivery finishes after it fell due, so `next_attempt_at` before the cut-off is implied: said, it lets the
    // status index (deliveries_due) range over old rows only, instead of every finished one on each hourly sweep
    // that finds nothing. Their attempts go by the foreign key's cascade.
    const result = await writeTransaction(this.#db, this.#options, (trx) =>
      trx
        .deleteFrom('deliveries')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('deliveries')
            .select('id')
            .where('status', 'in', ['succeeded', 'dead'])
            .where('next_attempt_at', '<', before)
            .where('finished_at', '<', before)
            .limit(limit),
        )
        .executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }
}
