// Finishing a group of claimed deliveries inside the caller's write transaction: attempts recorded, rows moved on.
import type { Kysely } from 'kysely';
import type { DeliveryFinish } from './automation-types.js';
import { ATTEMPT_COLUMNS, INSERT_CHUNK } from './delivery-rows.js';
import type { Database } from './schema.js';
import { rowValues, shapesOf, slot, slotRows, slots } from './statement-shapes.js';

/** Ids per `IN (...)` of a grouped update. */
const UPDATE_CHUNK = 256;

/**
 * Records each item's attempt and moves its delivery to the item's next status, if `owner` still holds it
 * running. Returns the ids that were still held (a lease lost to another process finishes nothing).
 */
export async function finishDeliveries(
  trx: Kysely<Database>,
  owner: string,
  items: readonly DeliveryFinish[],
  finishedAt: string,
): Promise<string[]> {
  const attempts = items.map(({ id, attempt }) => ({
    delivery_id: id,
    attempt: attempt.attempt,
    at: attempt.at.toISOString(),
    ok: attempt.ok ? 1 : 0,
    latency_ms: Math.round(attempt.latencyMs),
    response_code: attempt.responseCode ?? null,
    error: attempt.error ?? null,
    output: attempt.output ?? null,
  }));
  for (let i = 0; i < attempts.length; i += INSERT_CHUNK) {
    const chunk = attempts.slice(i, i + INSERT_CHUNK);
    await shapesOf(trx).run(
      trx,
      `delivery_attempts.insert:${chunk.length}`,
      () => trx.insertInto('delivery_attempts').values(slotRows(ATTEMPT_COLUMNS, chunk.length)),
      rowValues(ATTEMPT_COLUMNS, chunk),
    );
  }
  const held: string[] = [];
  // Successes (the usual case) move in one statement per chunk; retries and dead letters one by one.
  const succeeded = items.filter((i) => i.next.status === 'succeeded').map((i) => i.id);
  for (let i = 0; i < succeeded.length; i += UPDATE_CHUNK) {
    const ids = succeeded.slice(i, i + UPDATE_CHUNK);
    const { rows } = await shapesOf(trx).run(
      trx,
      `deliveries.succeed:${ids.length}`,
      () =>
        trx
          .updateTable('deliveries')
          .set({
            status: 'succeeded',
            lease_owner: null,
            lease_until: null,
            last_error: null,
            finished_at: slot(0),
          })
          .where('id', 'in', slots(2, ids.length))
          .where('lease_owner', '=', slot(1))
          .where('status', '=', 'running')
          .returning('id'),
      [finishedAt, owner, ...ids],
    );
    held.push(...rows.map((r) => r.id));
  }
  for (const { id, attempt, next } of items) {
    if (next.status === 'succeeded') continue;
    const row = await trx
      .updateTable('deliveries')
      .set({
        status: next.status,
        lease_owner: null,
        lease_until: null,
        last_error: attempt.ok ? null : (attempt.error ?? 'failed'),
        finished_at: next.status === 'dead' ? finishedAt : null,
        ...(next.nextAttemptAt !== undefined ? { next_attempt_at: next.nextAttemptAt.toISOString() } : {}),
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'running')
      .returning('id')
      .executeTakeFirst();
    if (row) held.push(row.id);
  }
  return held;
}
