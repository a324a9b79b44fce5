import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { EventBus } from '../events/bus.js';
import type { TransferEvent } from '../events/types.js';
import { HealthState } from '../health.js';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { DeliveryRepository, Store } from '../store/types.js';
import { attachRuleOutbox } from './attach.js';
import { OutboxWriter } from './outbox.js';
import { RuleCache } from './rule-cache.js';

const upload = (path: string, extra: Partial<TransferEvent> = {}): TransferEvent => ({
  type: 'transfer',
  at: new Date(),
  sessionId: 's1',
  username: 'alice',
  remoteAddress: '192.0.2.7',
  direction: 'upload',
  protocol: 'sftp',
  path,
  bytes: 5,
  durationMs: 1,
  resumedFrom: 0,
  completed: true,
  ...extra,
});

/** The real repository, with its enqueue calls counted. */
function counting(real: DeliveryRepository) {
  const counts = { enqueue: 0 };
  const repo: DeliveryRepository = {
    enqueue: (rows, now) => {
      counts.enqueue++;
      return real.enqueue(rows, now);
    },
    enqueueClaimed: (rows, now, claim) => {
      counts.enqueue++;
      return real.enqueueClaimed(rows, now, claim);
    },
    claim: (...a) => real.claim(...a),
    renew: (...a) => real.renew(...a),
    release: (...a) => real.release(...a),
    finish: (...a) => real.finish(...a),
    finishMany: (...a) => real.finishMany(...a),
    get: (id) => real.get(id),
    list: (q) => real.list(q),
    attempts: (id) => real.attempts(id),
    redeliver: (id, now) => real.redeliver(id, now),
    prune: (before, limit) => real.prune(before, limit),
  };
  return { repo, counts };
}

async function setUp(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-outbox-'));
  const store: Store = await openSqliteStore(join(dir, 'ferry.db'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const hook = await store.rules.create({
    name: 'csv-arrivals',
    enabled: true,
    events: ['upload'],
    conditions: { paths: ['/in/**/*.csv'], status: 'ok' },
    actions: [
      { kind: 'webhook', url: 'http://127.0.0.1:9/a' },
      { kind: 'webhook', url: 'http://127.0.0.1:9/b' },
    ],
  });
  await store.rules.create({
    name: 'off',
    enabled: false,
    events: ['upload'],
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/off' }],
  });
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation });
  await rules.refresh(true);
  const { repo, counts } = counting(store.deliveries);
  let wakes = 0;
  const outbox = new OutboxWriter({
    deliveries: repo,
    rules,
    log: loggers.automation,
    onEnqueued: () => wakes++,
  });
  const bus = new EventBus();
  bus.subscribe(outbox.listener);
  return { store, bus, counts, hook, wakes: () => wakes };
}

test("an event's deliveries are stored before emit settles: one per action of each matching enabled rule", async (t) => {
  const { store, bus, hook, wakes } = await setUp(t);
  await bus.emit(upload('/in/acme/orders.csv', { sha256: 'ab'.repeat(32) }));
  const stored = await store.deliveries.list({});
  assert.deepEqual(stored.map((d) => [d.ruleId, d.actionIndex, d.status]).sort(), [
    [hook.id, 0, 'pending'],
    [hook.id, 1, 'pending'],
  ]);
  const [first] = stored;
  assert.equal(first?.eventName, 'upload');
  assert.equal(first?.fields.path, '/in/acme/orders.csv');
  assert.equal(first?.fields.name, 'orders.csv');
  assert.equal(first?.fields.user, 'alice');
  assert.equal(first?.fields.sha256, 'ab'.repeat(32));
  assert.match(first?.id ?? '', /^[0-9a-f-]{36}$/);
  assert.notEqual(stored[0]?.id, stored[1]?.id);
  assert.equal(wakes(), 1, 'the worker is woken once the rows are committed');
});

test('events no rule matches cost no store call at all', async (t) => {
  const { store, bus, counts } = await setUp(t);
  await bus.emit(upload('/in/acme/orders.txt'));
  await bus.emit(upload('/in/acme/orders.csv', { completed: false, error: 'connection lost' }));
  await bus.emit(upload('/out/x.csv'));
  await bus.emit({ type: 'system', phase: 'started', at: new Date(), sessionId: '' } as never);
  assert.equal(counts.enqueue, 0);
  assert.deepEqual(await store.deliveries.list({}), []);
});

test('a burst of events is committed in a few batches, each emit settling after its own rows', async (t) => {
  const { store, bus, counts } = await setUp(t);
  const emits = Array.from({ length: 200 }, (_, i) => bus.emit(upload(`/in/f${i}.csv`)));
  await Promise.all(emits);
  assert.equal((await store.deliveries.list({ limit: 1000 })).length, 400);
  assert.ok(counts.enqueue <= 10, `group commit: ${counts.enqueue} transactions for 200 events`);
});

test('a process serving nothing (a CLI command) stores the deliveries its admin events cause', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-outbox-cli-'));
  const store = await openSqliteStore(join(dir, 'ferry.db'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const rule = await store.rules.create({
    name: 'user-changes',
    enabled: true,
    events: ['admin'],
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
  });
  const bus = new EventBus();
  const attached = await attachRuleOutbox({ store, events: bus, log: loggers.automation });
  await bus.emit({
    type: 'admin',
    at: new Date(),
    actor: { kind: 'cli', name: 'root' },
    action: 'users.add',
    subject: 'bob',
    changes: {},
  });
  await attached.close();
  const [d] = await store.deliveries.list({});
  assert.deepEqual(
    [d?.ruleId, d?.eventName, d?.fields.action, d?.fields.subject],
    [rule.id, 'admin', 'users.add', 'bob'],
  );
});

test('an outbox that cannot store deliveries makes the process unhealthy until a batch is stored again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-outbox-health-'));
  const file = join(dir, 'ferry.db');
  const store = await openSqliteStore(file);
  // A second, plain connection to the same file: a trigger makes every delivery insert fail as a full disk would.
  const raw = new SqliteDatabase(file);
  t.after(async () => {
    raw.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  await store.rules.create({
    name: 'arrivals',
    enabled: true,
    events: ['upload'],
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
  });
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation });
  await rules.refresh(true);
  const health = new HealthState(loggers.health);
  const heard: string[] = [];
  health.onChange((component, state) => heard.push(`${component}:${state.healthy ? 'ok' : state.reason}`));
  const outbox = new OutboxWriter({ deliveries: store.deliveries, rules, log: loggers.automation, health });
  const bus = new EventBus();
  bus.subscribe(outbox.listener);

  raw.exec(
    "CREATE TRIGGER deliveries_fail BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
  );
  await bus.emit(upload('/in/lost.csv'));
  assert.equal(health.isHealthy('outbox'), false);
  assert.equal(health.report().status, 'degraded');
  assert.deepEqual(heard, ['outbox:rule deliveries cannot be stored: database or disk is full']);
  assert.deepEqual(await store.deliveries.list({}), []);

  raw.exec('DROP TRIGGER deliveries_fail');
  await bus.emit(upload('/in/kept.csv'));
  assert.equal(health.isHealthy('outbox'), true);
  assert.equal(heard.at(-1), 'outbox:ok');
  assert.deepEqual(
    (await store.deliveries.list({})).map((d) => d.fields.path),
    ['/in/kept.csv'],
  );
});
