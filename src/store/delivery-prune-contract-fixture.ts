// The delivery history's retention, part of the automation store contract (runAutomationStoreContract): finished
// deliveries older than the cut-off go with their attempts, in bounded batches; nothing pending or running goes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuleDefinition, Store } from './types.js';

type WithStore = (run: (store: Store) => Promise<void>) => Promise<void>;

const rule: RuleDefinition = {
  name: 'prune-hook',
  enabled: true,
  events: ['upload'],
  conditions: {},
  actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook', timeout: 5 }],
};

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

export function runDeliveryPruneContract(name: string, withStore: WithStore): void {
  test(`${name}: pruning removes finished deliveries older than the cut-off with their attempts, in batches, and nothing pending or running`, () =>
    withStore(async (store) => {
      const { id: ruleId } = await store.rules.create(rule);
      const row = (id: string) => ({ id, ruleId, actionIndex: 0, eventName: 'upload' as const, fields: {} });
      const now = new Date();
      const lease = new Date(now.getTime() + 60_000);
      const finish = async (ids: readonly string[], status: 'succeeded' | 'dead' | 'pending') => {
        await store.deliveries.enqueue(ids.map(row), now);
        const claimed = await store.deliveries.claim('w', ids.length, now, lease);
        assert.equal(claimed.length, ids.length);
        await store.deliveries.finishMany(
          'w',
          ids.map((id) => ({
            id,
            attempt: { deliveryId: id, attempt: 1, at: new Date(), ok: status === 'succeeded', latencyMs: 3 },
            next: status === 'pending' ? { status, nextAttemptAt: lease } : { status },
          })),
        );
      };
      await finish(['old-ok-1', 'old-ok-2', 'old-ok-3'], 'succeeded');
      await finish(['old-dead'], 'dead');
      await finish(['retrying'], 'pending');
      await store.deliveries.enqueue([row('running')], now);
      assert.equal((await store.deliveries.claim('w', 5, now, lease)).length, 1);
      await tick();
      const cutOff = new Date();
      await tick();
      await finish(['new-ok'], 'succeeded');

      assert.equal(await store.deliveries.prune(cutOff, 0), 0, 'a batch of none deletes nothing');
      assert.equal(await store.deliveries.prune(cutOff, 3), 3, 'one batch of three');
      assert.equal(await store.deliveries.prune(cutOff, 3), 1, 'then what is left of them');
      assert.equal(await store.deliveries.prune(cutOff, 3), 0);
      for (const id of ['old-ok-1', 'old-ok-2', 'old-ok-3', 'old-dead']) {
        assert.equal(await store.deliveries.get(id), undefined, `${id} is gone`);
        assert.deepEqual(await store.deliveries.attempts(id), [], `${id}'s attempts are gone`);
      }
      const left = await store.deliveries.list({ limit: 10 });
      assert.deepEqual(left.map((d) => [d.id, d.status]).sort(), [
        ['new-ok', 'succeeded'],
        ['retrying', 'pending'],
        ['running', 'running'],
      ]);
      assert.equal((await store.deliveries.attempts('new-ok')).length, 1, 'a newer one keeps its attempts');
      // A cut-off in the future takes the newer finished one too, and still nothing unfinished.
      assert.equal(await store.deliveries.prune(new Date(Date.now() + 60_000), 10), 1);
      assert.deepEqual((await store.deliveries.list({ limit: 10 })).map((d) => d.id).sort(), [
        'retrying',
        'running',
      ]);
    }));
}
