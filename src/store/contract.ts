// The contract every store driver passes (runStoreContract): users, keys, permissions, uniqueness.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from './types.js';

export function runStoreContract(name: string, makeStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>): void {
  async function withStore(run: (store: Store) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      await run(store);
    } finally {
      await store.close();
      await cleanup();
    }
  }

  const key = (n: number) => ({
    algorithm: 'ssh-ed25519',
    blob: Buffer.from(`blob-${n}`),
    comment: `k${n}`,
    fingerprint: `SHA256:fp${n}`,
    options: n === 2 ? 'no-pty' : '',
  });

  test(`${name}: users are created, found, listed in name order and removed`, () =>
    withStore(async (store) => {
      const bob = await store.users.create({ name: 'bob', passwordHash: 'h1', requiredMethods: ['publickey', 'password'] });
      await store.users.create({ name: 'alice', permissions: { '/': ['list'], '/in': ['*'] } });
      assert.equal(bob.name, 'bob');
      assert.deepEqual(bob.requiredMethods, ['publickey', 'password']);
      assert.deepEqual(bob.permissions, { '/': ['*'] });
      assert.equal(bob.disabled, false);
      const alice = await store.users.findByName('alice');
      assert.deepEqual(alice?.permissions, { '/': ['list'], '/in': ['*'] });
      assert.equal(alice?.passwordHash, null);
      assert.deepEqual((await store.users.list()).map((u) => u.name), ['alice', 'bob']);
      assert.equal(await store.users.remove('bob'), true);
      assert.equal(await store.users.remove('bob'), false);
      assert.equal(await store.users.findByName('bob'), undefined);
    }));

  test(`${name}: a duplicate user name is refused and changes nothing`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'carol', passwordHash: 'first' });
      await assert.rejects(store.users.create({ name: 'carol', passwordHash: 'second' }), { code: 'ERR_ALREADY_EXISTS' });
      assert.equal((await store.users.findByName('carol'))?.passwordHash, 'first');
    }));

  test(`${name}: updates change only the given fields`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'dave', passwordHash: 'h' });
      const updated = await store.users.update('dave', { disabled: true });
      assert.equal(updated?.disabled, true);
      assert.equal(updated?.passwordHash, 'h');
      assert.equal(await store.users.update('nobody', { disabled: true }), undefined);
    }));

  test(`${name}: public keys are added once, listed with the user and removed by fingerprint`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'erin' });
      await store.users.addPublicKey('erin', key(1));
      const withTwo = await store.users.addPublicKey('erin', key(2));
      assert.deepEqual(withTwo.publicKeys.map((k) => [k.fingerprint, k.blob.toString(), k.options]), [
        ['SHA256:fp1', 'blob-1', ''],
        ['SHA256:fp2', 'blob-2', 'no-pty'],
      ]);
      await assert.rejects(store.users.addPublicKey('erin', key(1)), { code: 'ERR_ALREADY_EXISTS' });
      await assert.rejects(store.users.addPublicKey('nobody', key(3)), { code: 'ERR_NOT_FOUND' });
      assert.equal(await store.users.removePublicKey('erin', 'SHA256:fp1'), true);
      assert.equal(await store.users.removePublicKey('erin', 'SHA256:fp1'), false);
      assert.deepEqual((await store.users.findByName('erin'))?.publicKeys.map((k) => k.fingerprint), ['SHA256:fp2']);
      assert.equal((await store.users.list())[0]?.publicKeys.length, 1);
      await store.users.remove('erin');
      await store.users.create({ name: 'erin' });
      assert.equal((await store.users.findByName('erin'))?.publicKeys.length, 0, 'keys of a removed user do not come back');
    }));
}
