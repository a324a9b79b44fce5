import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { RuleCache } from './rule-cache.js';
import { RuleScheduler, tickDeliveries } from './schedule.js';

test('a schedule rule stores one delivery per action per tick, with an id every process computes alike', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-schedule-'));
  const store = await openSqliteStore(join(dir, 'ferry.db'));
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation, checkEveryMs: 20 });
  let wakes = 0;
  const scheduler = new RuleScheduler({
    rules,
    deliveries: store.deliveries,
    log: loggers.automation,
    onEnqueued: () => wakes++,
  });
  t.after(async () => {
    scheduler.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const rule = await store.rules.create({
    name: 'every-second',
    enabled: true,
    events: ['schedule'],
    schedule: '* * * * * *',
    conditions: {},
    actions: [
      { kind: 'webhook', url: 'http://127.0.0.1:1/a' },
      { kind: 'webhook', url: 'http://127.0.0.1:1/b' },
    ],
  });
  await rules.refresh(true);
  scheduler.start();
  assert.deepEqual(scheduler.armed, [rule.id]);
  await new Promise((r) => setTimeout(r, 2300));
  const stored = await store.deliveries.list({ limit: 100 });
  const slots = [...new Set(stored.map((d) => d.fields.at))].sort();
  assert.ok(slots.length >= 2 && slots.length <= 3, `${slots.length} ticks in 2.3 s`);
  assert.equal(stored.length, slots.length * 2, 'one per action per tick');
  for (const d of stored) {
    assert.equal(d.eventName, 'schedule');
    assert.match(d.id, new RegExp(`^sched:${rule.id}:[01]:${d.fields.at?.replace(/[.]/g, '\\.')}$`));
    assert.equal(new Date(d.fields.at ?? '').getMilliseconds(), 0, 'the slot, not the moment the timer ran');
  }
  assert.ok(wakes >= 2);
  // Another process firing the same slot stores nothing more.
  const slot = new Date(slots[0] ?? '');
  assert.equal(await store.deliveries.enqueue(tickDeliveries(rule, slot), new Date()), 0);

  await store.rules.update('every-second', { ...rule, enabled: false });
  await rules.refresh(true);
  assert.deepEqual(scheduler.armed, [], 'a disabled rule is disarmed');
  const count = (await store.deliveries.list({ limit: 100 })).length;
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal((await store.deliveries.list({ limit: 100 })).length, count);
});
