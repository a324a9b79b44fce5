import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { EventBus } from '../events/bus.js';
import type { SessionEvent, TransferEvent } from '../events/types.js';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { RuleCounterRepository, Store } from '../store/types.js';
import { counterKey, formatDuration, parseDuration } from './counting.js';
import { compileConditions } from './match.js';
import { OutboxWriter } from './outbox.js';
import { RuleCache } from './rule-cache.js';
import { parseRuleDefinition } from './rule-schema.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** A failed password login of `user` from `address`, `minutes` after T0. */
const failedLogin = (user: string, minutes: number, address = '192.0.2.7'): SessionEvent => ({
  type: 'session',
  phase: 'auth',
  at: new Date(T0 + minutes * 60_000),
  sessionId: `s-${user}-${minutes}`,
  remoteAddress: address,
  username: user,
  detail: { method: 'password', result: 'wrong password' },
});

const upload = (path: string): TransferEvent => ({
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
});

/** A real SQLite store with the given rules, an outbox on a bus, and the counter calls counted. */
async function setUp(t: TestContext, rules: Record<string, unknown>[]) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-counting-'));
  const store: Store = await openSqliteStore(join(dir, 'ferry.db'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  for (const [i, rule] of rules.entries()) {
    await store.rules.create(
      parseRuleDefinition({
        name: `rule-${i}`,
        events: ['login-failed'],
        actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
        ...rule,
      }),
    );
  }
  const cache = new RuleCache({ rules: store.rules, log: loggers.automation });
  await cache.refresh(true);
  const calls = { record: 0, enqueue: 0 };
  const counters: RuleCounterRepository = {
    record: (hits, now) => {
      calls.record++;
      return store.ruleCounters.record(hits, now);
    },
    keys: (id) => store.ruleCounters.keys(id),
  };
  // The real repository, its enqueue calls counted.
  const enqueue: Store['deliveries']['enqueue'] = (rows, now) => {
    calls.enqueue++;
    return store.deliveries.enqueue(rows, now);
  };
  const outbox = new OutboxWriter({
    deliveries: new Proxy(store.deliveries, {
      get: (target, prop) => {
        if (prop === 'enqueue') return enqueue;
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }),
    counters,
    rules: cache,
    log: loggers.automation,
    // The deliveries are due at once whatever the events' times.
    now: () => new Date(T0 + 3600_000),
  });
  const bus = new EventBus();
  bus.subscribe(outbox.listener);
  // In the order of the events that fired them, then by action.
  const deliveries = async () =>
    (await store.deliveries.list({ limit: 1000 })).sort(
      (a, b) => (a.fields.at ?? '').localeCompare(b.fields.at ?? '') || a.actionIndex - b.actionIndex,
    );
  return { store, bus, calls, deliveries };
}

const brute = {
  conditions: { count: { atLeast: 5, within: '10m' } },
  actions: [
    { kind: 'webhook', url: 'http://127.0.0.1:9/a' },
    { kind: 'webhook', url: 'http://127.0.0.1:9/b' },
  ],
};

test('five failed logins of one user within the window fire the rule once; five more fire it again', async (t) => {
  const { bus, deliveries } = await setUp(t, [brute]);
  for (let m = 0; m < 4; m++) await bus.emit(failedLogin('alice', m));
  assert.deepEqual(await deliveries(), [], 'four failures fire nothing');
  await bus.emit(failedLogin('alice', 4));
  const first = await deliveries();
  assert.deepEqual(
    first.map((d) => d.actionIndex),
    [0, 1],
    'one delivery per action, once',
  );
  const fields = first[0]?.fields ?? {};
  assert.deepEqual(
    [fields.event, fields.user, fields.count, fields.within, fields.key, fields.since, fields.at],
    [
      'login-failed',
      'alice',
      '5',
      '10m',
      'alice',
      new Date(T0).toISOString(),
      new Date(T0 + 4 * 60_000).toISOString(),
    ],
  );
  assert.notEqual(first[0]?.id, first[1]?.id);
  for (let m = 5; m < 9; m++) await bus.emit(failedLogin('alice', m));
  assert.equal((await deliveries()).length, 2, 'the count started over after the firing');
  await bus.emit(failedLogin('alice', 9));
  const all = await deliveries();
  assert.equal(all.length, 4);
  assert.equal(all[3]?.fields.since, new Date(T0 + 5 * 60_000).toISOString());
});

test("another user's failures do not count toward the first; failures older than the window drop out", async (t) => {
  const { bus, deliveries } = await setUp(t, [brute]);
  for (let m = 0; m < 4; m++) await bus.emit(failedLogin('alice', m));
  for (let m = 0; m < 4; m++) await bus.emit(failedLogin('bob', m));
  assert.deepEqual(await deliveries(), []);
  // alice's failures at 0..3 minutes; at 11 minutes those at 0 and 1 are out of the 10-minute window.
  await bus.emit(failedLogin('alice', 11));
  await bus.emit(failedLogin('alice', 11.5));
  assert.deepEqual(await deliveries(), [], '2, 3, 11, 11.5: four within ten minutes');
  await bus.emit(failedLogin('alice', 11.9));
  const fired = await deliveries();
  assert.deepEqual(
    [...new Set(fired.map((d) => `${d.fields.key} ${d.fields.since}`))],
    [`alice ${new Date(T0 + 2 * 60_000).toISOString()}`],
  );
});

test('per address counts one client over any user names; per rule counts every matching event', async (t) => {
  const { bus, deliveries } = await setUp(t, [
    { name: 'spray', conditions: { count: { atLeast: 3, within: '1h', per: 'address' } } },
    { name: 'any', conditions: { count: { atLeast: 4, within: '1h', per: 'rule' } } },
  ]);
  await bus.emit(failedLogin('u1', 0, '198.51.100.9'));
  await bus.emit(failedLogin('u2', 1, '::ffff:198.51.100.9'));
  await bus.emit(failedLogin('u3', 2, '203.0.113.1'));
  assert.deepEqual(await deliveries(), []);
  await bus.emit(failedLogin('u4', 3, '198.51.100.9'));
  const fired = (await deliveries()).map((d) => [d.ruleName, d.fields.key, d.fields.count]);
  assert.deepEqual(fired.sort(), [
    ['any', '', '4'],
    ['spray', '198.51.100.9', '3'],
  ]);
});

test('the other conditions are checked first: only matching events count', async (t) => {
  const { bus, deliveries } = await setUp(t, [
    { conditions: { users: ['a*'], sources: ['192.0.2.0/24'], count: { atLeast: 2, within: '10m' } } },
  ]);
  await bus.emit(failedLogin('alice', 0, '198.51.100.1'));
  await bus.emit(failedLogin('bob', 0));
  await bus.emit(failedLogin('bob', 1));
  await bus.emit(failedLogin('alice', 2, '198.51.100.1'));
  assert.deepEqual(await deliveries(), []);
  await bus.emit(failedLogin('alice', 3));
  await bus.emit(failedLogin('alice', 4));
  assert.equal((await deliveries()).length, 1);
});

test('no counter call for rules without a count, nor for events no rule wants', async (t) => {
  const { bus, calls, deliveries } = await setUp(t, [
    { name: 'plain', events: ['upload'], conditions: { paths: ['/in/**'] } },
    { name: 'counted', ...brute },
  ]);
  await bus.emit(upload('/in/a.csv'));
  await bus.emit(upload('/out/b.csv'));
  assert.deepEqual(calls, { record: 0, enqueue: 1 });
  assert.equal((await deliveries()).length, 1);
  await bus.emit(failedLogin('alice', 0));
  assert.deepEqual(calls, { record: 1, enqueue: 1 }, 'a counted event is one counter call, no enqueue');
});

test('a burst of 100 failures of four users is group-committed, and each user fires at every fifth', async (t) => {
  const { bus, calls, deliveries } = await setUp(t, [
    { conditions: { count: { atLeast: 5, within: '1h' } } },
  ]);
  await Promise.all(Array.from({ length: 100 }, (_, i) => bus.emit(failedLogin(`user${i % 4}`, i / 10))));
  const fired = await deliveries();
  assert.equal(fired.length, 20, '25 failures of each of 4 users fire 5 times each');
  for (let u = 0; u < 4; u++) assert.equal(fired.filter((d) => d.fields.key === `user${u}`).length, 5);
  assert.ok(calls.record < 100, `${calls.record} counter transactions for 100 events`);
});

test('durations read as written and are stored in their shortest form; bad ones are one clear line', () => {
  assert.equal(parseDuration('10m'), 600);
  assert.equal(parseDuration('90s'), 90);
  assert.equal(parseDuration(' 2H '), 7200);
  assert.equal(parseDuration(3600), 3600);
  assert.equal(formatDuration(600), '10m');
  assert.equal(formatDuration(5400), '90m');
  assert.equal(formatDuration(86_400), '1d');
  assert.equal(formatDuration(90), '90s');
  for (const bad of ['10', '10 minutes', '-5m', '1.5h', '0s', '31d', '', 'm']) {
    assert.throws(() => parseDuration(bad), /not a duration|out of range/, bad);
  }
  const rule = parseRuleDefinition({
    name: 'x',
    events: ['login-failed'],
    conditions: { count: { atLeast: 5, within: '600s' } },
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
  });
  assert.deepEqual(rule.conditions.count, { atLeast: 5, within: '10m', per: 'user' });
  const refused =
    (count: unknown, events = ['login-failed']) =>
    () =>
      parseRuleDefinition({
        name: 'x',
        events,
        conditions: { count },
        actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
      });
  assert.throws(refused({ atLeast: 1, within: '1m' }), /^.*conditions\.count\.atLeast: must be at least 2/);
  assert.throws(refused({ atLeast: 5 }), /conditions\.count\.within: is required/);
  assert.throws(
    refused({ atLeast: 5, within: '5 min' }),
    /conditions\.count\.within: '5 min' is not a duration/,
  );
  assert.throws(
    refused({ atLeast: 5, within: '1m', per: 'group' }),
    /per: must be one of user, address, path, rule/,
  );
  assert.throws(refused({ atLeast: 5, within: '1m', over: 1 }), /conditions\.count/);
  assert.throws(
    refused({ atLeast: 5, within: '1m' }, ['pre-upload']),
    /conditions\.count: cannot count pre-upload/,
  );
});

test('a hostile name is stored as its hash, never cut short into another key', () => {
  const long = 'x'.repeat(5000);
  assert.match(counterKey('user', long), /^user#sha256:[0-9a-f]{64}$/);
  assert.notEqual(counterKey('user', `${long}a`), counterKey('user', `${long}b`));
  assert.equal(counterKey('user', 'alice'), 'user:alice');
});

test('a stored count that could not be counted (edited by hand) makes the rule not compile, so it is skipped', () => {
  const bad = (count: unknown) => () => compileConditions({ count } as never);
  assert.throws(bad({ atLeast: 5, within: 'soon', per: 'user' }), /not a duration/);
  assert.throws(bad({ atLeast: 0, within: '1m', per: 'user' }), /not a positive whole number/);
  assert.throws(bad({ atLeast: 5, within: '1m', per: 'group' }), /must be one of user, address, path, rule/);
  assert.doesNotThrow(bad({ atLeast: 5, within: '1m', per: 'path' }));
});
