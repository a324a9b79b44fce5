// The contract of stored keys every store driver passes (runStoreContract runs it): users' public keys, host and client keys, OpenPGP keys, X.509 certificates, SSH CAs and revocations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MakeStore, storeRunner } from './contract-support.js';

export function runKeyStoreContract(name: string, makeStore: MakeStore): void {
  const withStore = storeRunner(makeStore);

  const key = (n: number) => ({
    algorithm: 'ssh-ed25519',
    blob: Buffer.from(`blob-${n}`),
    comment: `k${n}`,
    fingerprint: `SHA256:fp${n}`,
    options: n === 2 ? 'no-pty' : '',
  });

  test(`${name}: public keys are added once, listed with the user and removed by fingerprint`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'erin' });
      await store.users.addPublicKey('erin', key(1));
      const withTwo = await store.users.addPublicKey('erin', key(2));
      assert.deepEqual(
        withTwo.publicKeys.map((k) => [k.fingerprint, k.blob.toString(), k.options]),
        [
          ['SHA256:fp1', 'blob-1', ''],
          ['SHA256:fp2', 'blob-2', 'no-pty'],
        ],
      );
      await assert.rejects(store.users.addPublicKey('erin', key(1)), { code: 'ERR_ALREADY_EXISTS' });
      await assert.rejects(store.users.addPublicKey('nobody', key(3)), { code: 'ERR_NOT_FOUND' });
      assert.equal(await store.users.removePublicKey('erin', 'SHA256:fp1'), true);
      assert.equal(await store.users.removePublicKey('erin', 'SHA256:fp1'), false);
      assert.deepEqual(
        (await store.users.findByName('erin'))?.publicKeys.map((k) => k.fingerprint),
        ['SHA256:fp2'],
      );
      assert.equal((await store.users.list())[0]?.publicKeys.length, 1);
      await store.users.remove('erin');
      await store.users.create({ name: 'erin' });
      assert.equal(
        (await store.users.findByName('erin'))?.publicKeys.length,
        0,
        'keys of a removed user do not come back',
      );
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

  test(`${name}: host keys are added active or pending, promoted once, listed oldest first, and retired once`, () =>
    withStore(async (store) => {
      const a = await store.hostKeys.add(pair(1), 'active');
      const b = await store.hostKeys.add(pair(2), 'pending');
      assert.deepEqual([a.state, a.active, a.retiredAt], ['active', true, null]);
      assert.ok(a.activatedAt instanceof Date);
      assert.deepEqual([b.state, b.active, b.activatedAt], ['pending', false, null]);
      assert.equal(await store.hostKeys.promote(a.id), false, 'only a pending key is promoted');
      assert.equal(await store.hostKeys.promote(b.id), true);
      assert.equal(await store.hostKeys.promote(b.id), false, 'promoted once');
      assert.equal(await store.hostKeys.retire(a.id), true);
      assert.equal(await store.hostKeys.retire(a.id), false, 'already retired');
      assert.equal(await store.hostKeys.retire(9999), false);
      const listed = await store.hostKeys.list();
      assert.deepEqual(
        listed.map((k) => [k.id, k.state, k.active, k.publicBlob.toString(), k.privateSealed]),
        [
          [a.id, 'retired', false, 'pub-1', 'v1:sealed-1'],
          [b.id, 'active', true, 'pub-2', 'v1:sealed-2'],
        ],
      );
      assert.ok(listed[0]?.retiredAt instanceof Date);
      assert.ok(listed[1]?.activatedAt instanceof Date);
      const c = await store.hostKeys.add(pair(3), 'pending');
      assert.equal(await store.hostKeys.retire(c.id), true, 'a pending key can be withdrawn');
    }));

  test(`${name}: client keys have unique names`, () =>
    withStore(async (store) => {
      await store.clientKeys.add('bank', pair(3));
      await assert.rejects(store.clientKeys.add('bank', pair(4)), { code: 'ERR_ALREADY_EXISTS' });
      assert.equal((await store.clientKeys.get('bank'))?.sha256, 'SHA256:h3');
      assert.deepEqual(
        (await store.clientKeys.list()).map((k) => k.name),
        ['bank'],
      );
      assert.equal(await store.clientKeys.remove('bank'), true);
      assert.equal(await store.clientKeys.get('bank'), undefined);
    }));

  test(`${name}: OpenPGP keys keep their user ids, expiry and (optional) private half`, () =>
    withStore(async (store) => {
      const expires = new Date('2030-01-01T00:00:00.000Z');
      const created = new Date('2026-01-01T00:00:00.000Z');
      const base = {
        keyId: 'ABCD',
        algorithm: 'curve25519',
        createdAt: created,
        publicArmored: '-----BEGIN PGP PUBLIC KEY BLOCK-----',
      };
      await store.pgpKeys.add({
        ...base,
        name: 'ours',
        fingerprint: 'F1',
        userIds: ['Ops <ops@example.com>'],
        expiresAt: expires,
        privateSealed: 'v1:p',
      });
      await store.pgpKeys.add({
        ...base,
        name: 'bank',
        fingerprint: 'F2',
        userIds: [],
        expiresAt: null,
        privateSealed: null,
      });
      await assert.rejects(
        store.pgpKeys.add({
          ...base,
          name: 'again',
          fingerprint: 'F1',
          userIds: [],
          expiresAt: null,
          privateSealed: null,
        }),
        { code: 'ERR_ALREADY_EXISTS' },
      );
      const ours = await store.pgpKeys.get('ours');
      assert.deepEqual(
        [ours?.userIds, ours?.expiresAt?.toISOString(), ours?.createdAt.toISOString(), ours?.privateSealed],
        [['Ops <ops@example.com>'], expires.toISOString(), created.toISOString(), 'v1:p'],
      );
      assert.equal((await store.pgpKeys.get('bank'))?.privateSealed, null);
      assert.deepEqual(
        (await store.pgpKeys.list()).map((k) => k.name),
        ['bank', 'ours'],
      );
      assert.equal(await store.pgpKeys.remove('bank'), true);
    }));

  test(`${name}: X.509 certificates keep their chain, names, dates and sealed key; names are unique`, () =>
    withStore(async (store) => {
      const base = {
        algorithm: 'ecdsa-p256',
        subject: 'CN=host',
        issuer: 'CN=host',
        altNames: 'DNS:host, IP Address:127.0.0.1',
        fingerprint: 'AA:BB',
        notBefore: new Date('2026-01-01T00:00:00.000Z'),
        notAfter: new Date('2027-01-01T00:00:00.000Z'),
        chainPem: '-----BEGIN CERTIFICATE-----\n',
        privateSealed: 'v1:k',
      };
      await store.certificates.add({ ...base, name: 'web' });
      await store.certificates.add({ ...base, name: 'api' });
      await assert.rejects(store.certificates.add({ ...base, name: 'web' }), { code: 'ERR_ALREADY_EXISTS' });
      const web = await store.certificates.get('web');
      assert.deepEqual(
        [web?.altNames, web?.notAfter.toISOString(), web?.chainPem, web?.privateSealed],
        [base.altNames, '2027-01-01T00:00:00.000Z', base.chainPem, 'v1:k'],
      );
      assert.deepEqual(
        (await store.certificates.list()).map((c) => c.name),
        ['api', 'web'],
      );
      assert.equal(await store.certificates.remove('web'), true);
      assert.equal(await store.certificates.remove('web'), false);
      assert.equal(await store.certificates.get('web'), undefined);
    }));

  test(`${name}: user CAs, certificate revocations and host certificates are kept and matched`, () =>
    withStore(async (store) => {
      const ca = { algorithm: 'ssh-ed25519', publicBlob: Buffer.from('ca-blob'), fingerprint: 'SHA256:ca' };
      await store.userCas.add({ ...ca, name: 'corp' });
      await assert.rejects(store.userCas.add({ ...ca, name: 'other' }), { code: 'ERR_ALREADY_EXISTS' });
      await assert.rejects(store.userCas.add({ ...ca, name: 'corp', fingerprint: 'SHA256:x' }), {
        code: 'ERR_ALREADY_EXISTS',
      });
      const [corp] = await store.userCas.list();
      assert.deepEqual(
        [corp?.name, corp?.publicBlob.toString(), corp?.fingerprint],
        ['corp', 'ca-blob', 'SHA256:ca'],
      );

      const cert = {
        serial: '7',
        caFingerprint: 'SHA256:ca',
        keyId: 'alice@laptop',
        keyFingerprint: 'SHA256:k',
      };
      assert.equal(await store.certRevocations.isRevoked(cert), false);
      const serial = await store.certRevocations.add({
        kind: 'serial',
        value: '7',
        caFingerprint: 'SHA256:ca',
      });
      await assert.rejects(
        store.certRevocations.add({ kind: 'serial', value: '7', caFingerprint: 'SHA256:ca' }),
        {
          code: 'ERR_ALREADY_EXISTS',
        },
      );
      assert.equal(await store.certRevocations.isRevoked(cert), true);
      // The same serial from another CA is another certificate.
      assert.equal(await store.certRevocations.isRevoked({ ...cert, caFingerprint: 'SHA256:other' }), false);
      assert.equal(await store.certRevocations.remove(serial.id), true);
      await store.certRevocations.add({ kind: 'key-id', value: 'alice@laptop', caFingerprint: '' });
      assert.equal(await store.certRevocations.isRevoked({ ...cert, serial: '8' }), true);
      await store.certRevocations.add({ kind: 'fingerprint', value: 'SHA256:k', caFingerprint: '' });
      assert.equal(await store.certRevocations.isRevoked({ ...cert, keyId: 'x', serial: '8' }), true);
      assert.equal(
        await store.certRevocations.isRevoked({
          ...cert,
          keyId: 'x',
          serial: '8',
          keyFingerprint: 'SHA256:j',
        }),
        false,
      );
      assert.deepEqual(
        (await store.certRevocations.list()).map((r) => r.kind),
        ['key-id', 'fingerprint'],
      );
      // From a KRL: a serial of any CA ('*'), a key id scoped to one CA.
      const other = { serial: '99', caFingerprint: 'SHA256:z', keyId: 'kid', keyFingerprint: 'SHA256:n' };
      await store.certRevocations.add({ kind: 'serial', value: '99', caFingerprint: '*' });
      assert.equal(await store.certRevocations.isRevoked(other), true);
      await store.certRevocations.add({ kind: 'key-id', value: 'kid', caFingerprint: 'SHA256:ca' });
      assert.equal(await store.certRevocations.isRevoked({ ...other, serial: '1' }), false);
      assert.equal(
        await store.certRevocations.isRevoked({ ...other, serial: '1', caFingerprint: 'SHA256:ca' }),
        true,
      );
      assert.equal(await store.userCas.remove('corp'), true);
      assert.equal(await store.userCas.remove('corp'), false);

      const host = await store.hostKeys.add(
        {
          algorithm: 'ssh-ed25519',
          bits: 256,
          publicBlob: Buffer.from('pub'),
          sha256: 'SHA256:h',
          md5: 'MD5:h',
          privateSealed: 'v1:h',
          comment: '',
        },
        'active',
      );
      assert.equal(host.certificate, null);
      assert.equal(await store.hostKeys.setCertificate(host.id, Buffer.from('cert')), true);
      assert.equal(
        (await store.hostKeys.list()).find((k) => k.id === host.id)?.certificate?.toString(),
        'cert',
      );
      assert.equal(await store.hostKeys.setCertificate(host.id + 1000, Buffer.from('cert')), false);
    }));
}
