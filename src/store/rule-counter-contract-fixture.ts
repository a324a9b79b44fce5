// The contract of the counting-rule counters every store driver passes (runRuleCounterContract).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CounterHit, NewDelivery, Store } from './types.js';

export type RuleCounterStoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);

/** A hit of `ruleId` for `key` at T0 + `seconds`; its firing stores one delivery naming the count and since. */
function hit(
  ruleId: number,
  key: string,
  seconds: number,
  extra: Partial<Omit<CounterHit, 'fire'>> = {},
): CounterHit {
  return {
    ruleId,
    key,
    at: at(seconds),
    atLeast: 3,
    withinMs: 60_000,
    maxKeys: 100,
    ...extra,
    fire: (count, since): NewDelivery[] => [
      {
        id: `${key}@${seconds}`,
        ruleId,
        actionIndex: 0,
        eventName: 'login-failed',
        fields: { key, count: String(count), since: since.toISOString() },
      },
    ],
  };
}

export function runRuleCounterContract(name: string, makeStore: RuleCounterStoreFactory): void {
  async function withRule(run: (store: Store, ruleId: number) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      const rule = await store.rules.create({
        name: 'brute',
        enabled: true,
        events: ['login-failed'],
        conditions: { count: { atLeast: 3, within: '1m', per: 'user' } },
        actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      });
      await run(store, rule.id);
    } finally {
      await store.close();
      await cleanup();
    }
  }

  test(`${name}: a key fires once when its count reaches the threshold, then counts from zero again`, () =>
    withRule(async (store, ruleId) => {
      const outcomes = await store.ruleCounters.record(
        [0, 1, 2, 3, 4, 5, 6].map((s) => hit(ruleId, 'user:alice', s)),
        at(10),
      );
      assert.deepEqual(
        outcomes.map((o) => [o.count, o.fired]),
        [
          [1, false],
          [2, false],
          [3, true],
          [1, false],
          [2, false],
          [3, true],
          [1, false],
        ],
      );
      const stored = await store.deliveries.list({});
      assert.deepEqual(stored.map((d) => d.id).sort(), ['user:alice@2', 'user:alice@5']);
      const first = stored.find((d) => d.id === 'user:alice@2');
      assert.deepEqual(first?.fields, { key: 'user:alice', count: '3', since: at(0).toISOString() });
      assert.equal(first?.status, 'pending');
      assert.equal(first?.nextAttemptAt.toISOString(), at(10).toISOString(), 'due at the given now');
      assert.equal(await store.ruleCounters.keys(ruleId), 1, 'the key holds one hit after the second firing');
    }));

  test(`${name}: hits of another key count apart, in separate calls as in one`, () =>
    withRule(async (store, ruleId) => {
      await store.ruleCounters.record([hit(ruleId, 'user:alice', 0), hit(ruleId, 'user:bob', 1)], at(2));
      const next = await store.ruleCounters.record(
        [hit(ruleId, 'user:bob', 2), hit(ruleId, 'user:alice', 3)],
        at(4),
      );
      assert.deepEqual(
        next.map((o) => o.count),
        [2, 2],
      );
      assert.equal((await store.deliveries.list({})).length, 0);
      const third = await store.ruleCounters.record([hit(ruleId, 'user:bob', 4)], at(5));
      assert.deepEqual(third[0]?.fired, true);
      assert.deepEqual(
        (await store.deliveries.list({})).map((d) => d.fields.key),
        ['user:bob'],
      );
    }));

  test(`${name}: a hit older than the window no longer counts (a sliding window)`, () =>
    withRule(async (store, ruleId) => {
      // 0 s and 30 s, then 60 s: the first is exactly a window old and drops out; 61 s fires (30, 60, 61).
      const outcomes = await store.ruleCounters.record(
        [0, 30, 60, 61].map((s) => hit(ruleId, 'user:alice', s)),
        at(61),
      );
      assert.deepEqual(
        outcomes.map((o) => [o.count, o.fired]),
        [
          [1, false],
          [2, false],
          [2, false],
          [3, true],
        ],
      );
      const [fired] = await store.deliveries.list({});
      assert.equal(fired?.fields.since, at(30).toISOString());
    }));

  test(`${name}: a new key drops the rule's keys whose window has passed`, () =>
    withRule(async (store, ruleId) => {
      await store.ruleCounters.record(
        Array.from({ length: 50 }, (_, i) => hit(ruleId, `user:u${i}`, 0)),
        at(0),
      );
      assert.equal(await store.ruleCounters.keys(ruleId), 50);
      // Half a window later nothing has expired; a window later everything before has.
      await store.ruleCounters.record([hit(ruleId, 'user:late', 31)], at(31));
      assert.equal(await store.ruleCounters.keys(ruleId), 51);
      await store.ruleCounters.record([hit(ruleId, 'user:later', 90)], at(90));
      assert.equal(await store.ruleCounters.keys(ruleId), 2, 'only the keys hit within the last minute stay');
    }));

  test(`${name}: a spray of fresh keys within the window stays under the cap, dropping the least recently hit`, () =>
    withRule(async (store, ruleId) => {
      // alice has two of three failures; then 200 fresh names arrive, one a millisecond, within one window.
      await store.ruleCounters.record([hit(ruleId, 'user:alice', 0), hit(ruleId, 'user:alice', 1)], at(1));
      const spray = Array.from({ length: 200 }, (_, i) =>
        hit(ruleId, `user:spray-${i}`, 2 + i / 1000, { maxKeys: 40 }),
      );
      const outcomes = await store.ruleCounters.record(spray, at(3));
      assert.equal(await store.ruleCounters.keys(ruleId), 40, 'never more keys than the cap');
      assert.equal(
        outcomes.reduce((sum, o) => sum + o.evicted, 0),
        200 + 1 - 40,
        'every key beyond the cap was dropped, one by one',
      );
      assert.ok(outcomes.every((o) => !o.fired));
      // alice was the least recently hit: her two failures are forgotten, so a third does not fire yet.
      const [again] = await store.ruleCounters.record([hit(ruleId, 'user:alice', 4, { maxKeys: 40 })], at(4));
      assert.deepEqual([again?.count, again?.fired], [1, false]);
      // The newest spray keys are still counted.
      const [kept] = await store.ruleCounters.record(
        [hit(ruleId, 'user:spray-199', 5, { maxKeys: 40 })],
        at(5),
      );
      assert.equal(kept?.count, 2);
    }));

  test(`${name}: a rule whose conditions change counts from zero; other changes keep its counts`, () =>
    withRule(async (store, ruleId) => {
      await store.ruleCounters.record([hit(ruleId, 'user:alice', 0), hit(ruleId, 'user:alice', 1)], at(1));
      const rule = await store.rules.get('brute');
      assert.ok(rule);
      await store.rules.update('brute', { ...rule, enabled: false, description: 'brute force' });
      assert.equal(await store.ruleCounters.keys(ruleId), 1, 'switching it off keeps the counts');
      await store.rules.update('brute', {
        ...rule,
        conditions: { count: { atLeast: 3, within: '2m', per: 'user' } },
      });
      assert.equal(await store.ruleCounters.keys(ruleId), 0);
    }));

  test(`${name}: removing a rule removes its counters`, () =>
    withRule(async (store, ruleId) => {
      await store.ruleCounters.record([hit(ruleId, 'user:alice', 0)], at(0));
      assert.equal(await store.ruleCounters.keys(ruleId), 1);
      assert.equal(await store.rules.remove('brute'), true);
      assert.equal(await store.ruleCounters.keys(ruleId), 0);
    }));

  test(`${name}: a firing whose deliveries cannot be stored counts nothing (one transaction)`, () =>
    withRule(async (store, ruleId) => {
      await store.ruleCounters.record([hit(ruleId, 'user:alice', 0), hit(ruleId, 'user:alice', 1)], at(1));
      const broken: CounterHit = {
        ...hit(ruleId, 'user:alice', 2),
        fire: () => {
          throw new Error('no deliveries');
        },
      };
      await assert.rejects(
        store.ruleCounters.record([hit(ruleId, 'user:bob', 2), broken], at(2)),
        /no deliveries/,
      );
      assert.equal((await store.deliveries.list({})).length, 0);
      assert.equal(
        await store.ruleCounters.keys(ruleId),
        1,
        "bob's hit in the same call was rolled back too",
      );
      const [third] = await store.ruleCounters.record([hit(ruleId, 'user:alice', 3)], at(3));
      assert.deepEqual([third?.count, third?.fired], [3, true], 'the two earlier hits are still counted');
    }));
}
