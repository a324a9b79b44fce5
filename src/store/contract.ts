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

  const pair = (n: number) => ({
    algorithm: 'ssh-ed25519',
    bits: 256,
    publicBlob: Buffer.from(`pub-${n}`),
    sha256: `SHA256:h${n}`,
    md5: `MD5:m${n}`,
    privateSealed: `v1:sealed-${n}`,
    comment: `c${n}`,
  });

  test(`${name}: host keys are added active, listed oldest first, and retired once`, () =>
    withStore(async (store) => {
      const a = await store.hostKeys.add(pair(1));
      const b = await store.hostKeys.add(pair(2));
      assert.equal(a.active, true);
      assert.equal(a.retiredAt, null);
      assert.equal(await store.hostKeys.retire(a.id), true);
      assert.equal(await store.hostKeys.retire(a.id), false, 'already retired');
      assert.equal(await store.hostKeys.retire(9999), false);
      const listed = await store.hostKeys.list();
      assert.deepEqual(listed.map((k) => [k.id, k.active, k.publicBlob.toString(), k.privateSealed]), [
        [a.id, false, 'pub-1', 'v1:sealed-1'],
        [b.id, true, 'pub-2', 'v1:sealed-2'],
      ]);
      assert.ok(listed[0]?.retiredAt instanceof Date);
    }));

  test(`${name}: client keys have unique names`, () =>
    withStore(async (store) => {
      await store.clientKeys.add('bank', pair(3));
      await assert.rejects(store.clientKeys.add('bank', pair(4)), { code: 'ERR_ALREADY_EXISTS' });
      assert.equal((await store.clientKeys.get('bank'))?.sha256, 'SHA256:h3');
      assert.deepEqual((await store.clientKeys.list()).map((k) => k.name), ['bank']);
      assert.equal(await store.clientKeys.remove('bank'), true);
      assert.equal(await store.clientKeys.get('bank'), undefined);
    }));

  test(`${name}: OpenPGP keys keep their user ids, expiry and (optional) private half`, () =>
    withStore(async (store) => {
      const expires = new Date('2030-01-01T00:00:00.000Z');
      const created = new Date('2026-01-01T00:00:00.000Z');
      const base = { keyId: 'ABCD', algorithm: 'curve25519', createdAt: created, publicArmored: '-----BEGIN PGP PUBLIC KEY BLOCK-----' };
      await store.pgpKeys.add({ ...base, name: 'ours', fingerprint: 'F1', userIds: ['Ops <ops@example.com>'], expiresAt: expires, privateSealed: 'v1:p' });
      await store.pgpKeys.add({ ...base, name: 'bank', fingerprint: 'F2', userIds: [], expiresAt: null, privateSealed: null });
      await assert.rejects(
        store.pgpKeys.add({ ...base, name: 'again', fingerprint: 'F1', userIds: [], expiresAt: null, privateSealed: null }),
        { code: 'ERR_ALREADY_EXISTS' },
      );
      const ours = await store.pgpKeys.get('ours');
      assert.deepEqual([ours?.userIds, ours?.expiresAt?.toISOString(), ours?.createdAt.toISOString(), ours?.privateSealed], [
        ['Ops <ops@example.com>'],
        expires.toISOString(),
        created.toISOString(),
        'v1:p',
      ]);
      assert.equal((await store.pgpKeys.get('bank'))?.privateSealed, null);
      assert.deepEqual((await store.pgpKeys.list()).map((k) => k.name), ['bank', 'ours']);
      assert.equal(await store.pgpKeys.remove('bank'), true);
    }));
}
