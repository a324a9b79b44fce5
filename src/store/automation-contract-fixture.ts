// The contract of the rule and delivery repositories every store driver passes (runAutomationStoreContract): the
// rules and the deliveries' listing and redelivery here; claims and leases in delivery-lease-contract-fixture.ts,
// retention in delivery-prune-contract-fixture.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attempt, seconds, webhookRule } from './automation-contract-support-fixture.js';
import { runDeliveryLeaseContract } from './delivery-lease-contract-fixture.js';
import { runDeliveryPruneContract } from './delivery-prune-contract-fixture.js';
import type { Store } from './types.js';

/** A fresh store, plus a second instance on the same database (as another process would open it). */
export type AutomationStoreFactory = () => Promise<{
  store: Store;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}>;

export function runAutomationStoreContract(name: string, makeStore: AutomationStoreFactory): void {
  async function withStore(
    run: (store: Store, reopen: () => Promise<Store>) => Promise<void>,
  ): Promise<void> {
    const { store, reopen, cleanup } = await makeStore();
    const others: Store[] = [];
    try {
      await run(store, async () => {
        const other = await reopen();
        others.push(other);
        return other;
      });
    } finally {
      for (const other of others) await other.close();
      await store.close();
      await cleanup();
    }
  }

  runDeliveryPruneContract(name, (run) => withStore((store) => run(store)));
  runDeliveryLeaseContract(name, withStore);

  test(`${name}: rules are created once, read back whole, updated, listed and removed; each change bumps the version`, () =>
    withStore(async (store) => {
      const v0 = await store.rules.version();
      const created = await store.rules.create(
        webhookRule('notify', { description: 'tell the ERP', maxAttempts: 3, schedule: undefined }),
        'v1:sealed',
      );
      assert.equal(created.name, 'notify');
      assert.equal(created.hasSecret, true);
      assert.deepEqual(created.conditions, { paths: ['/in/**'], status: 'ok' });
      assert.deepEqual(created.actions, [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook', timeout: 5 }]);
      assert.equal(created.maxAttempts, 3);
      assert.equal(created.description, 'tell the ERP');
      assert.equal('schedule' in created, false, 'absent options stay absent');
      const v1 = await store.rules.version();
      assert.ok(v1 > v0, 'create bumps the version');
      await assert.rejects(store.rules.create(webhookRule('notify')), { code: 'ERR_ALREADY_EXISTS' });
      assert.equal(await store.rules.version(), v1, 'a refused create changes nothing');
      assert.equal(await store.rules.sealedSecret(created.id), 'v1:sealed');

      const kept = await store.rules.update('notify', webhookRule('notify', { enabled: false }));
      assert.equal(kept?.enabled, false);
      assert.equal(kept?.hasSecret, true, 'undefined keeps the secret');
      assert.equal(kept?.maxAttempts, undefined, 'the definition is replaced whole');
      const v2 = await store.rules.version();
      assert.ok(v2 > v1);
      assert.equal((await store.rules.update('notify', webhookRule('notify'), null))?.hasSecret, false);
      assert.equal(await store.rules.sealedSecret(created.id), undefined);
      assert.equal(await store.rules.update('nobody', webhookRule('nobody')), undefined);

      await store.rules.create(
        webhookRule('audit-sweep', { events: ['schedule'], schedule: '0 3 * * *', conditions: {} }),
      );
      assert.deepEqual(
        (await store.rules.list()).map((r) => r.name),
        ['audit-sweep', 'notify'],
      );
      assert.equal((await store.rules.getById(created.id))?.name, 'notify');
      assert.equal((await store.rules.get('audit-sweep'))?.schedule, '0 3 * * *');
      const before = await store.rules.version();
      assert.equal(await store.rules.remove('notify'), true);
      assert.ok((await store.rules.version()) > before, 'remove bumps the version');
      assert.equal(await store.rules.remove('notify'), false);
      assert.equal(await store.rules.get('notify'), undefined);
    }));

  test(`${name}: the rule version is shared by every instance on the database`, () =>
    withStore(async (store, reopen) => {
      const other = await reopen();
      const seen = await other.rules.version();
      await store.rules.create(webhookRule('shared'));
      assert.ok((await other.rules.version()) > seen);
      assert.equal((await other.rules.get('shared'))?.name, 'shared');
    }));
  test(`${name}: deliveries are listed newest or oldest first by rule, status and failure, and a dead one is redelivered`, () =>
    withStore(async (store) => {
      const a = await store.rules.create(webhookRule('a'));
      const b = await store.rules.create(webhookRule('b'));
      const t0 = new Date(Date.now() - 10_000);
      const one = (id: string, ruleId: number) => ({
        id,
        ruleId,
        actionIndex: 0,
        eventName: 'upload' as const,
        fields: { path: `/${id}` },
      });
      await store.deliveries.enqueue([one('a1', a.id)], t0);
      await store.deliveries.enqueue([one('a2', a.id), one('b1', b.id)], seconds(t0, 1));
      await store.deliveries.claim('w', 1, seconds(t0, 2), seconds(t0, 60));
      await store.deliveries.finish('a1', 'w', attempt('a1', 1, false, { error: 'refused' }), {
        status: 'dead',
      });
      assert.deepEqual(
        (await store.deliveries.list({})).map((d) => d.id),
        ['a2', 'b1', 'a1'],
      );
      assert.deepEqual(
        (await store.deliveries.list({ rule: 'a' })).map((d) => d.id),
        ['a2', 'a1'],
      );
      // Oldest first, paged one at a time from the previous page's last: each once, ties (a2, b1) by id.
      const oldest: string[] = [];
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const [d] = await store.deliveries.list({ oldestFirst: true, limit: 1, ...(after ? { after } : {}) });
        if (!d) break;
        oldest.push(d.id);
        after = { createdAt: d.createdAt, id: d.id };
      }
      assert.deepEqual(oldest, ['a1', 'a2', 'b1']);
      assert.deepEqual(
        (await store.deliveries.list({ failed: true })).map((d) => [d.id, d.status, d.lastError]),
        [['a1', 'dead', 'refused']],
      );
      assert.deepEqual(
        (await store.deliveries.list({ status: 'pending', limit: 1 })).map((d) => d.id),
        ['a2'],
      );
      const again = await store.deliveries.redeliver('a1', new Date());
      assert.deepEqual([again?.status, again?.attempts], ['pending', 0]);
      assert.equal((await store.deliveries.attempts('a1')).length, 1, 'the history stays');
      assert.equal(await store.deliveries.redeliver('missing', new Date()), undefined);

      await store.rules.remove('b');
      assert.equal((await store.deliveries.get('b1'))?.ruleName, `(removed rule ${b.id})`);
    }));
}
