import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Cron } from 'croner';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { RuleCache } from './rule-cache.js';
import { latestSlot, RuleScheduler, tickDeliveries } from './schedule.js';

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

test('a slot missed while no process ran fires once at start: the newest one, never again by a second process', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-schedule-missed-'));
  const store = await openSqliteStore(join(dir, 'ferry.db'));
  const schedulers: RuleScheduler[] = [];
  t.after(async () => {
    for (const s of schedulers) s.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation, checkEveryMs: 20 });
  const startScheduler = () => {
    const scheduler = new RuleScheduler({ rules, deliveries: store.deliveries, log: loggers.automation });
    schedulers.push(scheduler);
    scheduler.start();
    return scheduler;
  };
  // Every two seconds; nothing runs while about five seconds pass: two or three slots are missed.
  const rule = await store.rules.create({
    name: 'every-two-seconds',
    enabled: true,
    events: ['schedule'],
    schedule: '*/2 * * * * *',
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:1/a' }],
  });
  await new Promise((r) => setTimeout(r, 5000));
  await rules.refresh(true);
  const started = new Date();
  startScheduler();
  const missed = async () =>
    (await store.deliveries.list({ limit: 100 })).filter((d) => new Date(d.fields.at ?? '') < started);
  for (let i = 0; i < 100 && (await missed()).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  const caughtUp = await missed();
  assert.equal(caughtUp.length, 1, 'several missed slots fire once');
  const slot = new Date(caughtUp[0]?.fields.at ?? '');
  assert.equal(slot.getUTCSeconds() % 2, 0);
  assert.equal(slot.getMilliseconds(), 0, 'the slot itself');
  assert.ok(started.getTime() - slot.getTime() <= 2000, 'the newest missed slot, not an older one');
  assert.ok(slot > rule.updatedAt, 'never a slot from before the rule was made');
  assert.equal(caughtUp[0]?.id, `sched:${rule.id}:0:${slot.toISOString()}`);

  // A second process starting now finds the slot stored and fires nothing for it.
  startScheduler();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await missed()).length, 1);
});

test('a rule made (or changed) after the last slot has nothing to catch up', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-schedule-fresh-'));
  const store = await openSqliteStore(join(dir, 'ferry.db'));
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation, checkEveryMs: 20 });
  const scheduler = new RuleScheduler({ rules, deliveries: store.deliveries, log: loggers.automation });
  t.after(async () => {
    scheduler.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  // Daily at 03:00: the newest past slot is older than the rule.
  await store.rules.create({
    name: 'nightly',
    enabled: true,
    events: ['schedule'],
    schedule: '0 3 * * *',
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:1/a' }],
  });
  await rules.refresh(true);
  scheduler.start();
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await store.deliveries.list({}), []);
});

test('the newest past slot is found for dense and sparse schedules, and none before the rule changed', () => {
  const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s);
  const now = at(2026, 3, 10, 12, 0, 30);
  const slot = (schedule: string, since: Date) =>
    latestSlot(new Cron(schedule, { paused: true }), since, now);
  assert.deepEqual(slot('* * * * * *', at(2020, 1, 1)), at(2026, 3, 10, 12, 0, 30));
  assert.deepEqual(slot('0 3 * * *', at(2026, 1, 1)), at(2026, 3, 10, 3));
  assert.deepEqual(slot('0 0 1 1 *', at(2020, 6, 1)), at(2026, 1, 1));
  assert.deepEqual(slot('0 0 29 2 *', at(2021, 1, 1)), at(2024, 2, 29), 'a leap day, years back');
  assert.equal(slot('0 3 * * *', at(2026, 3, 10, 3, 0, 1)), undefined, 'the rule changed after the slot');
  assert.equal(slot('0 0 1 1 *', at(2026, 1, 1)), undefined, 'a slot at the change itself is not missed');
});
