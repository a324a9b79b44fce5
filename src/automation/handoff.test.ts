import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { Worker } from 'node:cluster';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { EventBus } from '../events/bus.js';
import { loggers } from '../logger.js';
import { type HandOff, LoadGauge, relayDeliveriesDue } from './handoff.js';
import { OutboxWriter } from './outbox.js';
import { RuleCache } from './rule-cache.js';
import type { DeliveryRepository } from './types.js';
import type { DeliveryWorker } from './worker.js';
import { receiver, setUp, until } from './worker-fixture.js';

/** The store's deliveries, counting the non-empty claims made through it. */
function countingClaims(deliveries: DeliveryRepository): {
  deliveries: DeliveryRepository;
  claims: () => number;
} {
  let claims = 0;
  const proxy = new Proxy(deliveries, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        if (name !== 'claim') return result;
        return result.then((claimed: unknown[]) => {
          claims += claimed.length;
          return claimed;
        });
      };
    },
  });
  return { deliveries: proxy, claims: () => claims };
}

/** An outbox feeding `worker` (as in a serving process) and a function emitting one upload event. */
async function outboxFor(store: Awaited<ReturnType<typeof setUp>>['store'], worker: DeliveryWorker) {
  const rules = new RuleCache({ rules: store.rules, log: loggers.automation });
  await rules.refresh(true);
  const outbox = new OutboxWriter({
    deliveries: store.deliveries,
    rules,
    log: loggers.automation,
    worker,
    onEnqueued: () => worker.wake(),
  });
  const bus = new EventBus();
  bus.subscribe(outbox.listener);
  return (path: string) =>
    bus.emit({
      type: 'transfer',
      at: new Date(),
      sessionId: 's',
      username: 'alice',
      direction: 'upload',
      protocol: 'sftp',
      path,
      bytes: 1,
      durationMs: 1,
      resumedFrom: 0,
      completed: true,
    });
}

test('the load gauge reads a busy event loop as busy and an idle one as idle', async () => {
  const gauge = new LoadGauge(0.5, 100);
  const spinUntil = performance.now() + 150;
  while (performance.now() < spinUntil) {
    // a transfer's decryption and hashing, as far as the event loop can tell
  }
  assert.ok(gauge.busy(), `utilisation ${gauge.utilization}`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(gauge.busy(), false, `utilisation ${gauge.utilization}`);
  assert.ok(gauge.utilization < 0.5);
});

test("the primary passes a worker's offer to every other connected worker, and nothing else", () => {
  const sent: string[] = [];
  const fake = (name: string, connected = true) =>
    ({
      isConnected: () => connected,
      send: (message: { type: string }) => sent.push(`${name}:${message.type}`),
    }) as unknown as Worker;
  const [a, b, c, gone] = [fake('a'), fake('b'), fake('c'), fake('gone', false)];
  const workers = [a, b, c, gone, undefined];
  assert.equal(relayDeliveriesDue(a, { type: 'ferry-event', kind: 'x', data: '{}' }, workers), false);
  assert.deepEqual(sent, []);
  assert.equal(relayDeliveriesDue(a, { type: 'ferry-deliveries-due' }, workers), true);
  assert.deepEqual(sent, ['b:ferry-deliveries-due-relayed', 'c:ferry-deliveries-due-relayed']);
});

test("a busy process leaves its uploads' deliveries pending and offers them; an idle sibling claims and runs them", async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const busyClaims = countingClaims(store.deliveries);
  const siblingClaims = countingClaims(store.deliveries);
  const sibling = start({ deliveries: siblingClaims.deliveries, pollMs: 60_000, gatherMs: 20 });
  let offers = 0;
  // The IPC round trip through the primary, as handoff.ts's clusterHandOff does it.
  const handOff: HandOff = {
    busy: () => true,
    offer: () => {
      offers++;
      sibling.claimSoon();
    },
  };
  const busy = start({ deliveries: busyClaims.deliveries, pollMs: 60_000, gatherMs: 20, handOff });
  assert.equal(busy.free, 0, 'the outbox claims nothing for a busy process');
  const uploaded = await outboxFor(store, busy);
  await Promise.all([uploaded('/in/a.csv'), uploaded('/in/b.csv'), uploaded('/in/c.csv')]);
  const stored = await store.deliveries.list({});
  assert.equal(stored.length, 3);
  for (const d of stored) assert.equal(d.leaseOwner, undefined, `${d.id} was stored unclaimed`);
  await until(
    'all delivered',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 3,
  );
  assert.ok(offers >= 1);
  assert.equal(siblingClaims.claims(), 3, 'the sibling took all three');
  assert.equal(busyClaims.claims(), 0, 'the busy process claimed none');
  assert.equal(r.ids.length, 3, 'each delivered once');
});

test('a busy process whose offers nobody takes still delivers them at its next poll', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  let offers = 0;
  const busy = start({
    pollMs: 300,
    gatherMs: 20,
    handOff: {
      busy: () => true,
      offer: () => {
        offers++;
      },
    },
  });
  const uploaded = await outboxFor(store, busy);
  // After the start-up poll, so the first claim can only come from the next one.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const began = Date.now();
  await uploaded('/in/a.csv');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal((await store.deliveries.list({ status: 'succeeded' })).length, 0, 'not claimed at once');
  await until(
    'delivered by the poll',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 1,
  );
  assert.ok(offers >= 1);
  assert.ok(Date.now() - began < 2000, `delivered after ${Date.now() - began} ms`);
  assert.equal(r.ids.length, 1);
});

test('an idle process with siblings keeps handling its own deliveries: stored claimed, no offer', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  let offers = 0;
  const idle = start({
    pollMs: 60_000,
    gatherMs: 20,
    handOff: {
      busy: () => false,
      offer: () => {
        offers++;
      },
    },
  });
  const uploaded = await outboxFor(store, idle);
  await uploaded('/in/a.csv');
  const [stored] = await store.deliveries.list({});
  assert.equal(stored?.leaseOwner, idle.owner, 'handed to its own worker in the outbox transaction');
  await until('delivered', async () => (await store.deliveries.list({ status: 'succeeded' })).length === 1);
  assert.equal(offers, 0);
});

test('in a real cluster an offer reaches every other worker through the primary, once per burst', async () => {
  const fixture = new URL('./handoff-cluster-fixture.ts', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
    timeout: 20_000,
  });
  // Worker 1's two offers in a row count once, the later one again: workers 2 and 3 twice each, worker 1 never.
  assert.deepEqual(JSON.parse(stdout), { claims: [2, 2, 3, 3] });
});
