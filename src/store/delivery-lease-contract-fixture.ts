// Claiming deliveries, part of the automation store contract (runAutomationStoreContract): a delivery is claimed
// when due under a lease, retried, given back or finished only by the lease's holder; a lease that ends is taken
// over; rows stored already claimed; and two instances on one database never claim the same delivery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  attempt,
  seconds,
  type WithReopenableStore,
  webhookRule,
} from './automation-contract-support-fixture.js';
import type { NewDelivery } from './types.js';

/** Upload deliveries of one rule's first action, one per id, each with its path. */
const uploadRows = (ruleId: number, ids: readonly string[]) =>
  ids.map((id) => ({
    id,
    ruleId,
    actionIndex: 0,
    eventName: 'upload' as const,
    fields: { path: `/${id}` },
  }));

export function runDeliveryLeaseContract(name: string, withStore: WithReopenableStore): void {
  test(`${name}: a delivery is claimed when due, retried after its backoff, and finished once`, () =>
    withStore(async (store) => {
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      const d: NewDelivery = {
        id: 'd-1',
        ruleId: rule.id,
        actionIndex: 0,
        eventName: 'upload',
        fields: { user: 'alice', path: '/in/a.csv' },
      };
      assert.equal(await store.deliveries.enqueue([d], now), 1);
      assert.equal(await store.deliveries.enqueue([d], now), 0, 'an existing id is skipped');
      const pending = await store.deliveries.get('d-1');
      assert.deepEqual([pending?.status, pending?.attempts, pending?.ruleName], ['pending', 0, 'hook']);
      assert.deepEqual(pending?.fields, { user: 'alice', path: '/in/a.csv' });

      const [claimed, ...more] = await store.deliveries.claim('w1', 10, now, seconds(now, 30));
      assert.equal(more.length, 0);
      assert.deepEqual([claimed?.id, claimed?.status, claimed?.attempts], ['d-1', 'running', 1]);
      assert.equal(claimed?.leaseOwner, 'w1');
      assert.deepEqual(await store.deliveries.claim('w2', 10, now, seconds(now, 30)), [], 'leased');

      const retryAt = seconds(now, 60);
      assert.equal(
        await store.deliveries.finish(
          'd-1',
          'w1',
          attempt('d-1', 1, false, { responseCode: 500, error: 'HTTP 500' }),
          { status: 'pending', nextAttemptAt: retryAt },
        ),
        true,
      );
      const waiting = await store.deliveries.get('d-1');
      assert.deepEqual(
        [waiting?.status, waiting?.lastError, waiting?.leaseOwner],
        ['pending', 'HTTP 500', undefined],
      );
      assert.equal(waiting?.nextAttemptAt.getTime(), retryAt.getTime());
      assert.deepEqual(
        await store.deliveries.claim('w2', 10, seconds(now, 59), seconds(now, 90)),
        [],
        'not yet',
      );
      const [again] = await store.deliveries.claim('w2', 10, seconds(now, 61), seconds(now, 90));
      assert.deepEqual([again?.id, again?.attempts], ['d-1', 2]);
      assert.equal(
        await store.deliveries.finish('d-1', 'w1', attempt('d-1', 2, true), { status: 'succeeded' }),
        false,
        'a process that lost the lease moves nothing',
      );
      assert.equal(
        await store.deliveries.finish(
          'd-1',
          'w2',
          attempt('d-1', 2, true, { responseCode: 200, output: 'ok' }),
          {
            status: 'succeeded',
          },
        ),
        true,
      );
      const done = await store.deliveries.get('d-1');
      assert.equal(done?.status, 'succeeded');
      assert.equal(done?.lastError, undefined);
      assert.ok(done?.finishedAt instanceof Date);
      const attempts = await store.deliveries.attempts('d-1');
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.ok, a.responseCode ?? null, a.error ?? null, a.output ?? null]),
        [
          [1, false, 500, 'HTTP 500', null],
          [2, true, null, null, null],
          [2, true, 200, null, 'ok'],
        ],
        'every attempt is recorded, even one whose process lost the lease',
      );
      assert.deepEqual(await store.deliveries.claim('w3', 10, seconds(now, 3600), seconds(now, 3630)), []);
    }));

  test(`${name}: a lease that ends is taken over, and a renewed one is not`, () =>
    withStore(async (store) => {
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      await store.deliveries.enqueue(
        ['a', 'b'].map((id) => ({
          id,
          ruleId: rule.id,
          actionIndex: 0,
          eventName: 'upload' as const,
          fields: {},
        })),
        now,
      );
      assert.equal((await store.deliveries.claim('dead-process', 10, now, seconds(now, 10))).length, 2);
      assert.equal(await store.deliveries.renew('dead-process', ['a'], seconds(now, 100)), 1);
      assert.equal(await store.deliveries.renew('someone-else', ['a', 'b'], seconds(now, 100)), 0);
      const taken = await store.deliveries.claim('survivor', 10, seconds(now, 11), seconds(now, 40));
      assert.deepEqual(
        taken.map((t) => [t.id, t.attempts, t.leaseOwner]),
        [['b', 2, 'survivor']],
        'the lost attempt counts',
      );
    }));

  test(`${name}: a claim given back unstarted is pending again, its attempt not counted, for anyone`, () =>
    withStore(async (store) => {
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      await store.deliveries.enqueueClaimed(uploadRows(rule.id, ['a', 'b', 'c']), now, {
        owner: 'stopping',
        leaseUntil: seconds(now, 60),
        limit: 2,
      });
      assert.equal(
        await store.deliveries.release('someone-else', ['a', 'b']),
        0,
        'only the holder gives back',
      );
      assert.equal(await store.deliveries.release('stopping', ['a', 'b', 'c']), 2, 'c was never claimed');
      const back = await store.deliveries.list({});
      assert.deepEqual(back.map((d) => [d.id, d.status, d.attempts, d.leaseOwner ?? null]).sort(), [
        ['a', 'pending', 0, null],
        ['b', 'pending', 0, null],
        ['c', 'pending', 0, null],
      ]);
      const taken = await store.deliveries.claim('next', 10, now, seconds(now, 60));
      assert.deepEqual(taken.map((d) => [d.id, d.attempts]).sort(), [
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ]);
    }));

  test(`${name}: deliveries stored already claimed are held by that owner until their lease ends`, () =>
    withStore(async (store) => {
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      const rows = uploadRows(rule.id, ['a', 'b', 'c']);
      const lease = { owner: 'here', leaseUntil: seconds(now, 10), limit: 2 };
      const first = await store.deliveries.enqueueClaimed(rows, now, lease);
      assert.equal(first.inserted, 3);
      assert.deepEqual(
        first.claimed.map((d) => [d.id, d.status, d.attempts, d.leaseOwner, d.ruleName, d.fields.path]),
        [
          ['a', 'running', 1, 'here', 'hook', '/a'],
          ['b', 'running', 1, 'here', 'hook', '/b'],
        ],
      );
      // Another process sees only the one left pending; a row whose id exists is neither stored nor claimed.
      assert.deepEqual(
        (await store.deliveries.claim('there', 10, now, seconds(now, 60))).map((d) => d.id),
        ['c'],
      );
      assert.deepEqual(await store.deliveries.enqueueClaimed(rows, now, lease), { inserted: 0, claimed: [] });
      // After the lease, what the first owner held is due like any crashed holder's.
      const taken = await store.deliveries.claim('there', 10, seconds(now, 11), seconds(now, 40));
      assert.deepEqual(taken.map((d) => [d.id, d.attempts]).sort(), [
        ['a', 2],
        ['b', 2],
      ]);
    }));

  test(`${name}: of rows stored already claimed, those whose id existed are not claimed again`, () =>
    withStore(async (store) => {
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      const lease = { owner: 'here', leaseUntil: seconds(now, 10), limit: 10 };
      await store.deliveries.enqueueClaimed(uploadRows(rule.id, ['a', 'b']), now, lease);
      // The same owner, lease and time: only the row that is new comes back, named as the caller knows it.
      const again = await store.deliveries.enqueueClaimed(uploadRows(rule.id, ['b', 'x', 'a', 'y']), now, {
        ...lease,
        ruleName: (id) => (id === rule.id ? 'hook as cached' : undefined),
      });
      assert.equal(again.inserted, 2);
      assert.deepEqual(
        again.claimed.map((d) => [d.id, d.ruleName, d.status, d.leaseOwner, d.fields.path]),
        [
          ['x', 'hook as cached', 'running', 'here', '/x'],
          ['y', 'hook as cached', 'running', 'here', '/y'],
        ],
      );
      const stored = await store.deliveries.list({});
      assert.deepEqual(stored.map((d) => [d.id, d.status, d.attempts]).sort(), [
        ['a', 'running', 1],
        ['b', 'running', 1],
        ['x', 'running', 1],
        ['y', 'running', 1],
      ]);
    }));

  test(`${name}: finishing many in one call moves only the deliveries the owner still holds`, () =>
    withStore(async (store) => {
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      const ids = ['m1', 'm2', 'm3', 'm4'];
      await store.deliveries.enqueue(
        ids.map((id) => ({ id, ruleId: rule.id, actionIndex: 0, eventName: 'upload' as const, fields: {} })),
        now,
      );
      await store.deliveries.claim('w', 3, now, seconds(now, 60));
      const held = await store.deliveries.finishMany('w', [
        { id: 'm1', attempt: attempt('m1', 1, true), next: { status: 'succeeded' } },
        {
          id: 'm2',
          attempt: attempt('m2', 1, false, { error: 'HTTP 503' }),
          next: { status: 'pending', nextAttemptAt: seconds(now, 5) },
        },
        { id: 'm3', attempt: attempt('m3', 1, false, { error: 'HTTP 404' }), next: { status: 'dead' } },
        { id: 'm4', attempt: attempt('m4', 1, true), next: { status: 'succeeded' } },
      ]);
      assert.deepEqual(held.sort(), ['m1', 'm2', 'm3'], 'm4 was never claimed by w');
      const states = await Promise.all(ids.map((id) => store.deliveries.get(id)));
      assert.deepEqual(
        states.map((d) => [d?.status, d?.lastError ?? null, d?.finishedAt instanceof Date]),
        [
          ['succeeded', null, true],
          ['pending', 'HTTP 503', false],
          ['dead', 'HTTP 404', true],
          ['pending', null, false],
        ],
      );
      assert.equal((await store.deliveries.attempts('m4')).length, 1, 'every attempt is recorded');
      assert.deepEqual(await store.deliveries.finishMany('w', []), []);
    }));

  test(`${name}: two instances claiming in turn never take the same delivery`, () =>
    withStore(async (store, reopen) => {
      // In-process turns (a synchronous driver would block its event loop on the other's lock); the
      // concurrent case, from separate processes, is the driver's own test.
      const other = await reopen();
      const rule = await store.rules.create(webhookRule('hook'));
      const now = new Date();
      const ids = Array.from({ length: 100 }, (_, i) => `c-${i}`);
      await store.deliveries.enqueue(
        ids.map((id) => ({ id, ruleId: rule.id, actionIndex: 0, eventName: 'upload' as const, fields: {} })),
        now,
      );
      const taken: Record<string, string[]> = { x: [], y: [] };
      for (let turn = 0; ; turn++) {
        const [s, owner] = turn % 2 === 0 ? [store, 'x'] : [other, 'y'];
        const batch = await s.deliveries.claim(owner, 7, now, seconds(now, 600));
        if (batch.length === 0) break;
        taken[owner]?.push(...batch.map((d) => d.id));
      }
      const all = [...(taken.x ?? []), ...(taken.y ?? [])];
      assert.equal(all.length, ids.length);
      assert.deepEqual([...new Set(all)].sort(), [...ids].sort());
    }));
}
