// The delivery history's retention over a real SQLite store: swept in batches until nothing old is left, ended
// by stop() after the batch in progress.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/types.js';
import { startDeliveryRetention } from './delivery-retention.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A store holding `finished` succeeded deliveries and `waiting` pending ones, all finished or due now. */
async function storeWith(t: TestContext, finished: number, waiting: number): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-retention-'));
  const store = await openSqliteStore(join(dir, 'ferry.db'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const rule = await store.rules.create({
    name: 'hook',
    enabled: true,
    events: ['upload'],
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook' }],
  });
  const now = new Date();
  const row = (id: string) => ({
    id,
    ruleId: rule.id,
    actionIndex: 0,
    eventName: 'upload' as const,
    fields: {},
  });
  const done = Array.from({ length: finished }, (_, i) => `done-${i}`);
  await store.deliveries.enqueue(done.map(row), now);
  await store.deliveries.claim('w', finished, now, new Date(now.getTime() + 60_000));
  await store.deliveries.finishMany(
    'w',
    done.map((id) => ({
      id,
      attempt: { deliveryId: id, attempt: 1, at: now, ok: true, latencyMs: 1 },
      next: { status: 'succeeded' as const },
    })),
  );
  await store.deliveries.enqueue(
    Array.from({ length: waiting }, (_, i) => row(`waiting-${i}`)),
    new Date(now.getTime() + DAY_MS),
  );
  return store;
}

test('a sweep deletes finished deliveries older than the retention in batches until none is left', async (t) => {
  const store = await storeWith(t, 250, 3);
  const calls: number[] = [];
  const retention = startDeliveryRetention({
    deliveries: {
      prune: async (before, limit) => {
        const n = await store.deliveries.prune(before, limit);
        calls.push(n);
        return n;
      },
    },
    days: 30,
    log: loggers.automation,
    batch: 100,
    // 31 days from now: everything finished today is past a 30-day retention.
    now: () => new Date(Date.now() + 31 * DAY_MS),
  });
  t.after(() => retention.stop());
  // The first sweep started at once; a second call joins it rather than racing it.
  assert.equal(await retention.sweep(), 250);
  assert.deepEqual(calls, [100, 100, 50]);
  const left = await store.deliveries.list({ limit: 10 });
  assert.deepEqual(
    left.map((d) => d.status),
    ['pending', 'pending', 'pending'],
  );
  assert.equal(await retention.sweep(), 0, 'nothing more to delete');
});

test('a retention not reached deletes nothing', async (t) => {
  const store = await storeWith(t, 5, 0);
  const retention = startDeliveryRetention({
    deliveries: store.deliveries,
    days: 30,
    log: loggers.automation,
  });
  t.after(() => retention.stop());
  assert.equal(await retention.sweep(), 0);
  assert.equal((await store.deliveries.list({ limit: 10 })).length, 5);
});

test('stop ends a sweep after the batch in progress', async (t) => {
  const store = await storeWith(t, 300, 0);
  let calls = 0;
  let stopping: Promise<void> | undefined;
  const retention = startDeliveryRetention({
    deliveries: {
      prune: async (before, limit) => {
        calls++;
        const n = await store.deliveries.prune(before, limit);
        stopping ??= retention.stop();
        return n;
      },
    },
    days: 1,
    log: loggers.automation,
    batch: 100,
    now: () => new Date(Date.now() + 2 * DAY_MS),
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  await stopping;
  assert.equal(calls, 1, 'no batch after stop');
  assert.equal((await store.deliveries.list({ limit: 500 })).length, 200);
});
