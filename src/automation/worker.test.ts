import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelay } from './retry.js';
import { outboxOf, receiver, setUp, until } from './worker-fixture.js';

test('backoff doubles from the base up to the cap, with jitter in the upper half', () => {
  const policy = { baseMs: 1000, capMs: 600_000 };
  assert.equal(
    retryDelay(1, policy, () => 1),
    1000,
  );
  assert.equal(
    retryDelay(1, policy, () => 0),
    500,
  );
  assert.equal(
    retryDelay(4, policy, () => 1),
    8000,
  );
  assert.equal(
    retryDelay(30, policy, () => 1),
    600_000,
  );
  assert.equal(
    retryDelay(30, policy, () => 0),
    300_000,
  );
});

test('a receiver answering 500 twice then 200 gets three attempts with one webhook-id; the last succeeds', async (t) => {
  const r = await receiver(t, (n, _req, res) => {
    res.writeHead(n <= 2 ? 500 : 200);
    res.end(n <= 2 ? 'busy' : 'ok');
  });
  const { store, start, enqueue } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  start();
  await enqueue('d1');
  await until('delivered', async () => (await store.deliveries.get('d1'))?.status === 'succeeded');
  assert.deepEqual(r.ids, ['d1', 'd1', 'd1']);
  const attempts = await store.deliveries.attempts('d1');
  assert.deepEqual(
    attempts.map((a) => [a.attempt, a.ok, a.responseCode, a.error ?? null, a.output]),
    [
      [1, false, 500, 'HTTP 500', 'busy'],
      [2, false, 500, 'HTTP 500', 'busy'],
      [3, true, 200, null, 'ok'],
    ],
  );
  assert.ok(attempts.every((a) => a.latencyMs >= 0));
  assert.equal((await store.deliveries.get('d1'))?.lastError, undefined);
});

test('a receiver that always fails dead-letters the delivery after maxAttempts, and a 4xx at once', async (t) => {
  const r = await receiver(t, (_n, req, res) => {
    res.writeHead(req.headers['webhook-id'] === 'gone' ? 410 : 503);
    res.end();
  });
  const { store, start, enqueue } = await setUp(t, {
    actions: [{ kind: 'webhook', url: r.url }],
    maxAttempts: 3,
  });
  start();
  await enqueue('flaky', 'gone');
  await until('both dead', async () => (await store.deliveries.list({ status: 'dead' })).length === 2);
  assert.deepEqual(
    (await store.deliveries.attempts('flaky')).map((a) => a.responseCode),
    [503, 503, 503],
  );
  assert.deepEqual(
    (await store.deliveries.attempts('gone')).map((a) => a.responseCode),
    [410],
  );
  const seen = r.ids.length;
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(r.ids.length, seen, 'nothing more is sent after the dead letter');
  assert.deepEqual((await store.deliveries.list({ failed: true })).map((d) => [d.id, d.lastError]).sort(), [
    ['flaky', 'HTTP 503'],
    ['gone', 'HTTP 410'],
  ]);
});

test('a delivery whose holder died is taken over once its lease ends', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start, enqueue } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  await enqueue('orphan');
  const now = new Date();
  await store.deliveries.claim('crashed-process', 10, now, new Date(now.getTime() + 400));
  start();
  await new Promise((res) => setTimeout(res, 200));
  assert.deepEqual(r.ids, [], 'not while the lease lasts');
  await until('taken over', async () => (await store.deliveries.get('orphan'))?.status === 'succeeded');
  assert.deepEqual(r.ids, ['orphan']);
  assert.equal((await store.deliveries.attempts('orphan'))[0]?.attempt, 2, 'the lost attempt counted');
});

test('no more actions run at once than the concurrency allows, and a long one keeps its lease', async (t) => {
  const r = await receiver(t, (_n, _req, res) => setTimeout(() => res.end(), 300));
  const { store, start, enqueue } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  await enqueue(...Array.from({ length: 9 }, (_, i) => `c${i}`));
  start({ concurrency: 3, leaseMs: 150 });
  await until(
    'all delivered',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 9,
  );
  assert.equal(r.maxActive(), 3);
  assert.equal(new Set(r.ids).size, 9);
  assert.equal(r.ids.length, 9, 'renewed leases: no delivery was taken twice');
});

test('stop waits for running actions up to its bound, then cancels them for a later retry', async (t) => {
  const r = await receiver(t, () => {});
  const { store, start, enqueue } = await setUp(t, {
    actions: [{ kind: 'webhook', url: r.url, timeout: 30 }],
  });
  const worker = start({ stopTimeoutMs: 200 });
  await enqueue('slow');
  await until('sent', () => r.ids.length === 1);
  const began = Date.now();
  await worker.stop();
  assert.ok(Date.now() - began < 2000);
  const d = await store.deliveries.get('slow');
  assert.equal(d?.status, 'pending', 'retried later, by any process');
  assert.match((await store.deliveries.attempts('slow'))[0]?.error ?? '', /stopping/);
});

test("a removed rule's deliveries and a kind without a runner are dead-lettered with the reason", async (t) => {
  const { store, start, enqueue, rule } = await setUp(t, {
    actions: [{ kind: 'command', argv: ['/bin/true'] }],
  });
  await enqueue('no-runner');
  start();
  await until('dead', async () => (await store.deliveries.get('no-runner'))?.status === 'dead');
  assert.match((await store.deliveries.get('no-runner'))?.lastError ?? '', /cannot run 'command' actions/);
  await store.rules.remove('hook');
  await store.deliveries.enqueue(
    [{ id: 'orphan', ruleId: rule.id, actionIndex: 0, eventName: 'upload', fields: {} }],
    new Date(),
  );
  await until('dead', async () => (await store.deliveries.get('orphan'))?.status === 'dead');
  assert.equal((await store.deliveries.get('orphan'))?.lastError, 'the rule was removed');
});

test('the outbox in the same process wakes the worker: delivered long before the next poll', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start, rule } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const worker = start({ pollMs: 60_000 });
  await new Promise((res) => setTimeout(res, 100));
  const uploaded = await outboxOf(store, { onEnqueued: () => worker.wake() });
  const began = Date.now();
  await uploaded('/in/a.csv');
  await until(
    'delivered',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 1,
    5000,
  );
  assert.ok(Date.now() - began < 2000, `delivered after ${Date.now() - began} ms`);
  assert.equal((await store.deliveries.list({}))[0]?.ruleId, rule.id);
});

test('wake-ups within the gather window make one claim, and the outcomes one finishing transaction', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start, enqueue } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const calls = { claims: 0, finishes: 0 };
  const deliveries = new Proxy(store.deliveries, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'finishMany') calls.finishes++;
        const result = value.apply(target, args);
        if (name === 'claim')
          return result.then((claimed: unknown[]) => {
            if (claimed.length > 0) calls.claims++;
            return claimed;
          });
        return result;
      };
    },
  });
  // A window far longer than the four wake-ups take, so the test does not depend on the machine's speed.
  const worker = start({ deliveries, pollMs: 60_000, gatherMs: 1000 });
  await new Promise((res) => setTimeout(res, 1200));
  for (const id of ['a', 'b', 'c', 'd']) {
    await enqueue(id);
    worker.wake();
    await new Promise((res) => setTimeout(res, 20));
  }
  await until(
    'delivered',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 4,
    10_000,
  );
  assert.deepEqual([...r.ids].length, 4);
  assert.deepEqual(calls, { claims: 1, finishes: 1 });
});

test("the outbox stores its process's deliveries already claimed by its worker: no claim, no other process races", async (t) => {
  const r = await receiver(t, (_n, _req, res) => setTimeout(() => res.end(), 100));
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  let claims = 0;
  const deliveries = new Proxy(store.deliveries, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        if (name !== 'claim') return result;
        return result.then((claimed: unknown[]) => {
          if (claimed.length > 0) claims++;
          return claimed;
        });
      };
    },
  });
  // Two slots here; another process polls all the time and would take whatever is left pending.
  const local = start({ deliveries, pollMs: 60_000, concurrency: 2 });
  const other = start({ pollMs: 10, gatherMs: 0 });
  const uploaded = await outboxOf(store, { worker: local });
  await Promise.all([uploaded('/in/a.csv'), uploaded('/in/b.csv'), uploaded('/in/c.csv')]);
  // Committed with the events: two running under the local lease, the third pending for whoever has room.
  const stored = await store.deliveries.list({});
  const running = stored.filter((d) => d.status === 'running');
  assert.equal(running.length, 2);
  for (const d of running) assert.deepEqual([d.leaseOwner, d.attempts], [local.owner, 1]);
  await until(
    'all delivered',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 3,
    10_000,
  );
  assert.equal(claims, 0, 'the local worker never claimed what it was handed');
  assert.equal(new Set(r.ids).size, 3);
  assert.equal(r.ids.length, 3, 'each delivered once');
  const attempts = await Promise.all(running.map((d) => store.deliveries.attempts(d.id)));
  assert.deepEqual(
    attempts.map((a) => a.length),
    [1, 1],
  );
  assert.ok(other.owner !== local.owner);
});

test('deliveries the outbox hands over wait for the gather window together, holding their slots and leases; a stop runs them', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  // A window far longer than the test waits: what runs before it ends ran without waiting for it.
  const local = start({ pollMs: 60_000, gatherMs: 60_000, concurrency: 4 });
  const uploaded = await outboxOf(store, { worker: local });
  await uploaded('/in/a.csv');
  await uploaded('/in/b.csv');
  await uploaded('/in/c.csv');
  const stored = await store.deliveries.list({});
  assert.deepEqual(
    stored.map((d) => [d.status, d.leaseOwner]),
    Array.from({ length: 3 }, () => ['running', local.owner]),
    'stored under the local lease before the uploads were acknowledged',
  );
  assert.equal(local.free, 1, 'three of four slots are taken by the waiting deliveries');
  assert.equal(local.inFlight, 3);
  // Bounded wait, not a timing measurement: nothing may arrive before the window ends.
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(r.ids.length, 0, 'handed deliveries wait for the window');
  const stopping = Date.now();
  await local.stop();
  assert.equal(new Set(r.ids).size, 3, 'a stop runs what was waiting');
  // Bounded, not a measurement: the outcomes are recorded at once, not after the 60 s window.
  assert.ok(Date.now() - stopping < 30_000, 'a stop does not wait out the gather window');
  const delivered = await store.deliveries.list({ status: 'succeeded' });
  assert.equal(delivered.length, 3);
});
