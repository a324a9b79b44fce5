// Outbox rows: their columns in the order the compiled statements bind them, the INSERT of new deliveries (also
// used by the counters of counting rules), and rows read back as records.
import type { Kysely, Selectable } from 'kysely';
import type {
  AnyRuleEventName,
  DeliveryAttempt,
  DeliveryRecord,
  DeliveryStatus,
  NewDelivery,
} from './automation-types.js';
import type { Database, DeliveriesTable, DeliveryAttemptsTable } from './schema.js';
import { rowValues, shapesOf, slotRows } from './statement-shapes.js';

/** Rows per INSERT: at most 11 columns each, well under SQLite's bound-parameter limit. */
export const INSERT_CHUNK = 64;

// The hot statements (an upload's deliveries stored and claimed, claims, outcomes) run as compiled shapes
// (statement-shapes.ts): building and compiling them with kysely per call cost more than running them.
export const PENDING_COLUMNS = [
  'id',
  'rule_id',
  'action_index',
  'event_name',
  'fields',
  'status',
  'attempts',
  'next_attempt_at',
  'created_at',
] as const;
export const CLAIMED_COLUMNS = [...PENDING_COLUMNS, 'lease_owner', 'lease_until'] as const;
export const ATTEMPT_COLUMNS = [
  'delivery_id',
  'attempt',
  'at',
  'ok',
  'latency_ms',
  'response_code',
  'error',
  'output',
] as const;

export type DeliveryRow = Selectable<DeliveriesTable> & { rule_name: string | null };

/** How a delivery names its rule: the rule's name, or, for a removed rule (whose deliveries stay readable), its id. */
export function deliveryRuleName(ruleId: number, name: string | null | undefined): string {
  return name ?? `(removed rule ${ruleId})`;
}

export function toDelivery(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    ruleId: row.rule_id,
    ruleName: deliveryRuleName(row.rule_id, row.rule_name),
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

export function toAttempt(row: Selectable<DeliveryAttemptsTable>): DeliveryAttempt {
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

/**
 * Inserts outbox rows, pending and due at `now`, inside the caller's write transaction (the counters of counting
 * rules store a firing's deliveries with the count); a row whose id exists is skipped. Returns how many were new.
 */
export async function insertDeliveries(
  trx: Kysely<Database>,
  deliveries: readonly NewDelivery[],
  now: Date,
): Promise<number> {
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
  let inserted = 0;
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const chunk = rows.slice(i, i + INSERT_CHUNK);
    const { affected } = await shapesOf(trx).run(
      trx,
      `deliveries.insert:${chunk.length}`,
      () =>
        trx
          .insertInto('deliveries')
          .values(slotRows(PENDING_COLUMNS, chunk.length))
          .onConflict((oc) => oc.column('id').doNothing()),
      rowValues(PENDING_COLUMNS, chunk),
    );
    inserted += affected;
  }
  return inserted;
}
