// The contract of virtual folders and their mounts every store driver passes (SQLite and PostgreSQL run it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MakeStore, storeRunner } from './contract-support.js';

export function runFolderStoreContract(name: string, makeStore: MakeStore): void {
  const withStore = storeRunner(makeStore);

  test(`${name}: folders are unique by name, keep their quota, and count usage atomically against it`, () =>
    withStore(async (store) => {
      const f = await store.folders.create({
        name: 'reports',
        path: '/srv/reports',
        quotaBytes: 5 * 2 ** 40,
      });
      assert.equal(f.path, '/srv/reports');
      assert.equal(f.quotaBytes, 5 * 2 ** 40, 'sizes past 2^31 survive');
      assert.equal(f.quotaFiles, 0);
      await assert.rejects(store.folders.create({ name: 'reports', path: '/x' }), {
        code: 'ERR_ALREADY_EXISTS',
      });
      const changed = await store.folders.update('reports', { quotaBytes: 1000, quotaFiles: 2 });
      assert.deepEqual([changed?.quotaBytes, changed?.quotaFiles, changed?.path], [1000, 2, '/srv/reports']);
      assert.equal(await store.folders.update('nothing', { quotaBytes: 1 }), undefined);
      assert.equal(await store.folders.changeUsage('reports', 600, 1), true);
      assert.equal(await store.folders.changeUsage('reports', 500, 0), false, 'past the byte limit');
      assert.equal(await store.folders.changeUsage('reports', 400, 1), true);
      assert.equal(await store.folders.changeUsage('reports', 0, 1), false, 'a third file');
      assert.equal(await store.folders.changeUsage('reports', -5000, -5), true, 'floored at zero');
      assert.deepEqual(
        [
          (await store.folders.findByName('reports'))?.usedBytes,
          (await store.folders.findByName('reports'))?.usedFiles,
        ],
        [0, 0],
      );
      await store.folders.setUsage('reports', 42, 1);
      assert.equal((await store.folders.findByName('reports'))?.usedBytes, 42);
      // A multi-GiB upload's change (a bare parameter compared with 0 must not be typed as a 32-bit integer).
      await store.folders.update('reports', { quotaBytes: 2 ** 40, quotaFiles: 0 });
      assert.equal(await store.folders.changeUsage('reports', 3 * 2 ** 30, 1), true);
      assert.equal(await store.folders.changeUsage('reports', -(2 * 2 ** 30), 0), true);
      assert.equal((await store.folders.findByName('reports'))?.usedBytes, 42 + 2 ** 30);
      await store.folders.create({ name: 'archive', path: '/srv/archive' });
      assert.deepEqual(
        (await store.folders.list()).map((x) => x.name),
        ['archive', 'reports'],
      );
    }));

  test(`${name}: folders mount for users and groups, one per virtual path, go with their owner, and a mounted folder stays`, () =>
    withStore(async (store) => {
      await store.folders.create({ name: 'reports', path: '/srv/reports' });
      await store.folders.create({ name: 'drop', path: '/srv/drop' });
      await store.users.create({ name: 'alice' });
      await store.groups.create({ name: 'bank-partners' });
      await store.folders.mount({ kind: 'group', name: 'bank-partners' }, 'reports', '/reports', [
        'list',
        'download',
      ]);
      await store.folders.mount({ kind: 'user', name: 'alice' }, 'drop', '/drop', ['*']);
      await store.folders.mount({ kind: 'user', name: 'alice' }, 'reports', '/drop', ['list']);
      const mine = await store.folders.mountsOf({ kind: 'user', name: 'alice' });
      assert.deepEqual(
        mine.map((m) => [m.folder.name, m.virtualPath, m.permissions]),
        [['reports', '/drop', ['list']]],
        'mounting at a used path replaces what was there',
      );
      const theirs = await store.folders.mountsOf({ kind: 'group', name: 'bank-partners' });
      assert.deepEqual(
        theirs.map((m) => [m.folder.name, m.folder.path, m.virtualPath, m.permissions]),
        [['reports', '/srv/reports', '/reports', ['list', 'download']]],
      );
      assert.deepEqual(
        (await store.folders.mountsOfFolder('reports')).map((m) => [
          m.owner.kind,
          m.owner.name,
          m.virtualPath,
        ]),
        [
          ['group', 'bank-partners', '/reports'],
          ['user', 'alice', '/drop'],
        ],
      );
      await assert.rejects(store.folders.remove('reports'), { code: 'ERR_INVALID_ARGUMENT' });
      await assert.rejects(store.folders.mount({ kind: 'user', name: 'nobody' }, 'reports', '/r', ['list']), {
        code: 'ERR_NOT_FOUND',
      });
      await assert.rejects(store.folders.mount({ kind: 'user', name: 'alice' }, 'nothing', '/r', ['list']), {
        code: 'ERR_NOT_FOUND',
      });
      assert.equal(await store.folders.unmount({ kind: 'user', name: 'alice' }, '/elsewhere'), false);
      assert.equal(await store.folders.unmount({ kind: 'user', name: 'alice' }, '/drop'), true);
      assert.equal(await store.users.remove('alice'), true);
      await store.groups.update('bank-partners', { description: 'x' });
      assert.equal(await store.groups.remove('bank-partners'), true, "a group's mounts go with it");
      assert.deepEqual(await store.folders.mountsOfFolder('reports'), []);
      assert.equal(await store.folders.remove('reports'), true);
      assert.equal(await store.folders.remove('reports'), false);
    }));
}
