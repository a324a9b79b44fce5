import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActiveTransfers } from '../core/active-transfers.js';
import { TRANSFER_QUIET_MS, transfersPaused } from './held-deliveries.js';
import { outboxOf, receiver, setUp, until } from './worker-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('deliveries of a process whose client is transferring wait until its files close, then run within the concurrency; nobody else takes them', async (t) => {
  const r = await receiver(t, (_n, _req, res) => setTimeout(() => res.end(), 20));
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const transfers = new ActiveTransfers();
  const local = start({ transfers, yieldMs: 600_000, gatherMs: 0, pollMs: 60_000, concurrency: 2 });
  // Another process polling all the time: it would take whatever is left pending.
  start({ pollMs: 10, gatherMs: 0 });
  const uploaded = await outboxOf(store, { worker: local });

  const closeFile = transfers.opened();
  for (let i = 0; i < 6; i++) await uploaded(`/in/${i}.csv`);
  const stored = await store.deliveries.list({});
  assert.deepEqual(
    stored.map((d) => [d.status, d.leaseOwner]),
    Array.from({ length: 6 }, () => ['running', local.owner]),
    'all six held under the local lease, more than its two slots',
  );
  // A bounded wait, not a timing: nothing may run while the client's file is open.
  await sleep(400);
  assert.equal(r.ids.length, 0, 'no action ran during the transfer');

  closeFile();
  await until(
    'all delivered',
    async () => (await store.deliveries.list({ status: 'succeeded' })).length === 6,
  );
  assert.equal(new Set(r.ids).size, 6);
  assert.equal(r.ids.length, 6, 'each delivered once, by the process that held it');
  assert.ok(r.maxActive() <= 2, `at most the concurrency at once (saw ${r.maxActive()})`);
});

test('sustained transfers delay a delivery by at most rules.yieldToTransfersSeconds', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const transfers = new ActiveTransfers();
  const local = start({ transfers, yieldMs: 700, gatherMs: 0, pollMs: 60_000 });
  const uploaded = await outboxOf(store, { worker: local });
  transfers.opened(); // never closed: a client that transfers all the time
  const at = Date.now();
  await uploaded('/in/a.csv');
  await until('delivered', () => r.ids.length === 1);
  // A lower bound only (the code enforces it; a slow machine makes it later, never earlier).
  assert.ok(Date.now() - at >= 600, 'it waited for the transfers');
});

test('with no client transfer, or with yielding off, handed deliveries start after the gather window', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const transfers = new ActiveTransfers();
  const close = transfers.opened();
  close();
  await sleep(TRANSFER_QUIET_MS + 50);
  const local = start({ transfers, yieldMs: 600_000, gatherMs: 0, pollMs: 60_000, concurrency: 1 });
  const uploaded = await outboxOf(store, { worker: local });
  await uploaded('/in/a.csv');
  await until('delivered while quiet', () => r.ids.length === 1);

  const busy = new ActiveTransfers();
  busy.opened();
  const off = start({ transfers: busy, yieldMs: 0, gatherMs: 0, pollMs: 60_000, concurrency: 1 });
  const uploadedOff = await outboxOf(store, { worker: off });
  await uploadedOff('/in/b.csv');
  await until('delivered with yielding off', () => r.ids.length === 2);
});

test('a stop starts what its slots allow and gives the other held deliveries back for any process', async (t) => {
  const r = await receiver(t, (_n, _req, res) => res.end());
  const { store, start } = await setUp(t, { actions: [{ kind: 'webhook', url: r.url }] });
  const transfers = new ActiveTransfers();
  transfers.opened();
  const local = start({ transfers, yieldMs: 600_000, gatherMs: 0, pollMs: 60_000, concurrency: 1 });
  const uploaded = await outboxOf(store, { worker: local });
  for (const name of ['a', 'b', 'c']) await uploaded(`/in/${name}.csv`);
  await local.stop();
  assert.equal(r.ids.length, 1, 'one slot: one ran within the stop');
  const back = await store.deliveries.list({ status: 'pending' });
  assert.deepEqual(
    back.map((d) => [d.attempts, d.leaseOwner ?? null]),
    [
      [0, null],
      [0, null],
    ],
    'given back unstarted, not left to their leases',
  );
  start({ pollMs: 10, gatherMs: 0 });
  await until('the others delivered by the next process', () => r.ids.length === 3);
  assert.equal(new Set(r.ids).size, 3);
});

test('transfersPaused: at once with no gauge, yielding off or no file open; otherwise once the files closed and went quiet', async () => {
  const transfers = new ActiveTransfers();
  const timed = async (wait: Promise<void>) => {
    const started = performance.now();
    await wait;
    return performance.now() - started;
  };
  assert.ok((await timed(transfersPaused(undefined, 5000))) < 50);
  const busy = transfers.opened();
  assert.ok((await timed(transfersPaused(transfers, 0))) < 50, 'yielding off');
  const closing = sleep(200).then(busy);
  const waited = await timed(transfersPaused(transfers, 5000));
  await closing;
  assert.ok(waited >= 200 + TRANSFER_QUIET_MS - 5 && waited < 2000, `paused after ${waited} ms`);
  assert.ok((await timed(transfersPaused(transfers, 5000))) < 50, 'quiet already');
});
