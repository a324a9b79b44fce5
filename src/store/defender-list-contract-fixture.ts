// The contract of the defender's allow and deny lists every store driver passes (runDefenderListContract).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DefenderListEntry, Store } from './types.js';

export type DefenderListStoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const entry = (list: 'allow' | 'deny', cidr: string, note = ''): DefenderListEntry => ({
  list,
  cidr,
  note,
  createdBy: 'api:ops',
  createdAt: new Date('2026-11-30T09:00:00.000Z'),
});

export function runDefenderListContract(name: string, makeStore: DefenderListStoreFactory): void {
  test(`${name}: defender list entries are added once per list, listed by list then CIDR, and removed once`, async () => {
    const { store, cleanup } = await makeStore();
    try {
      const lists = store.defenderLists;
      assert.equal(await lists.add(entry('deny', '198.51.100.0/24', 'scanner')), true);
      assert.equal(await lists.add(entry('allow', '10.0.0.0/8')), true);
      assert.equal(await lists.add(entry('allow', '192.0.2.7')), true);
      assert.equal(
        await lists.add(entry('deny', '198.51.100.0/24', 'again')),
        false,
        'a duplicate is refused',
      );
      assert.equal(await lists.add(entry('allow', '198.51.100.0/24')), true, 'the other list is its own');
      const all = await lists.list();
      assert.deepEqual(
        all.map((e) => `${e.list} ${e.cidr} ${e.note}`),
        ['allow 10.0.0.0/8 ', 'allow 192.0.2.7 ', 'allow 198.51.100.0/24 ', 'deny 198.51.100.0/24 scanner'],
      );
      assert.equal(all[0]?.createdBy, 'api:ops');
      assert.equal(all[0]?.createdAt.toISOString(), '2026-11-30T09:00:00.000Z');
      assert.equal(await lists.remove('deny', '198.51.100.0/24'), true);
      assert.equal(await lists.remove('deny', '198.51.100.0/24'), false, 'removed once');
      assert.equal(await lists.remove('deny', '10.0.0.0/8'), false, 'an allow entry is not a deny entry');
      assert.deepEqual(
        (await lists.list()).map((e) => e.cidr),
        ['10.0.0.0/8', '192.0.2.7', '198.51.100.0/24'],
      );
    } finally {
      await store.close();
      await cleanup();
    }
  });
}
