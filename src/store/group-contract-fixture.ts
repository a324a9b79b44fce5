// The contract of groups and memberships every store driver passes (SQLite and PostgreSQL run it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MakeStore, storeRunner } from './contract-support.js';

export function runGroupStoreContract(name: string, makeStore: MakeStore): void {
  const withStore = storeRunner(makeStore);

  test(`${name}: groups keep their defaults, are unique by name, and change only the given fields`, () =>
    withStore(async (store) => {
      const g = await store.groups.create({
        name: 'bank-partners',
        homeTemplate: '/srv/partners/%username%',
        permissions: { '/in': ['list', 'upload'] },
        protocols: ['sftp'],
        allowedSources: ['10.0.0.0/8'],
        quotaBytes: 5 * 2 ** 40,
        uploadRate: 1000,
      });
      assert.equal(g.homeTemplate, '/srv/partners/%username%');
      assert.deepEqual(g.permissions, { '/in': ['list', 'upload'] });
      assert.equal(g.quotaBytes, 5 * 2 ** 40, 'sizes past 2^31 survive');
      assert.equal(g.downloadRate, 0);
      await assert.rejects(store.groups.create({ name: 'bank-partners' }), { code: 'ERR_ALREADY_EXISTS' });
      const changed = await store.groups.update('bank-partners', { downloadRate: 7, homeTemplate: null });
      assert.equal(changed?.downloadRate, 7);
      assert.equal(changed?.homeTemplate, null);
      assert.equal(changed?.uploadRate, 1000, 'untouched field kept');
      assert.deepEqual(changed?.protocols, ['sftp']);
      assert.equal(await store.groups.update('nobody', { uploadRate: 1 }), undefined);
      await store.groups.create({ name: 'auditors' });
      assert.deepEqual(
        (await store.groups.list()).map((x) => x.name),
        ['auditors', 'bank-partners'],
      );
    }));

  test(`${name}: a user has one primary group and secondary groups in order; a group with members is not removed`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'alice' });
      await store.users.create({ name: 'bob' });
      for (const n of ['a', 'b', 'c']) await store.groups.create({ name: n });
      await store.groups.setPrimary('alice', 'a');
      await store.groups.addSecondary('alice', 'c');
      await store.groups.addSecondary('alice', 'b');
      await store.groups.addSecondary('alice', 'c');
      let mine = await store.groups.groupsOf('alice');
      assert.equal(mine.primary?.name, 'a');
      assert.deepEqual(
        mine.secondary.map((g) => g.name),
        ['c', 'b'],
        'in the order added, once',
      );
      // A secondary group made primary stops being secondary; the old primary is left.
      await store.groups.setPrimary('alice', 'b');
      mine = await store.groups.groupsOf('alice');
      assert.equal(mine.primary?.name, 'b');
      assert.deepEqual(
        mine.secondary.map((g) => g.name),
        ['c'],
      );
      assert.deepEqual(await store.groups.members('c'), [{ user: 'alice', primary: false }]);
      assert.deepEqual(await store.groups.members('b'), [{ user: 'alice', primary: true }]);
      assert.deepEqual((await store.groups.groupsOf('bob')).secondary, []);
      await assert.rejects(store.groups.setPrimary('alice', 'nope'), { code: 'ERR_NOT_FOUND' });
      await assert.rejects(store.groups.addSecondary('nobody', 'a'), { code: 'ERR_NOT_FOUND' });
      await assert.rejects(store.groups.remove('c'), { code: 'ERR_INVALID_ARGUMENT' });
      assert.equal(await store.groups.removeSecondary('alice', 'b'), false, 'the primary is not a secondary');
      assert.equal(await store.groups.removeSecondary('alice', 'c'), true);
      assert.equal(await store.groups.remove('c'), true);
      assert.equal(await store.groups.remove('c'), false);
      await store.groups.setPrimary('alice', null);
      assert.equal((await store.groups.groupsOf('alice')).primary, undefined);
      // Removing a user ends their memberships, so their groups can go.
      await store.groups.setPrimary('bob', 'a');
      await store.users.remove('bob');
      assert.deepEqual(await store.groups.members('a'), []);
      assert.equal(await store.groups.remove('a'), true);
    }));

  test(`${name}: usage is checked against the limits a session brings (a group's), not only the user's own`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'carol' });
      assert.equal(await store.users.changeUsage('carol', 900, 1, { bytes: 1000, files: 0 }), true);
      assert.equal(await store.users.changeUsage('carol', 200, 1, { bytes: 1000, files: 0 }), false);
      assert.equal(await store.users.changeUsage('carol', 200, 1), true, 'without limits: the user has none');
      assert.equal(await store.users.changeUsage('carol', 1, 1, { bytes: 0, files: 2 }), false);
      // Sizes past 2^31, in the change and in the limits (compared as 64-bit integers on every dialect).
      const big = { bytes: 8 * 2 ** 30, files: 0 };
      assert.equal(await store.users.changeUsage('carol', 3 * 2 ** 30, 1, big), true);
      assert.equal(await store.users.changeUsage('carol', 6 * 2 ** 30, 1, big), false);
      assert.equal(await store.users.changeUsage('carol', -(2 * 2 ** 30), 0, big), true);
      assert.equal((await store.users.findByName('carol'))?.quota?.usedBytes, 1100 + 2 ** 30);
    }));
}
