// The contract every store driver passes (runStoreContract): users, keys, permissions, uniqueness.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AuditAction,
  type AuditChainHead,
  type AuditRecord,
  type Store,
  USER_SORT_COLUMNS,
} from './types.js';

export function runStoreContract(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>,
): void {
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
      const bob = await store.users.create({
        name: 'bob',
        passwordHash: 'h1',
        requiredMethods: ['publickey', 'password'],
      });
      await store.users.create({ name: 'alice', permissions: { '/': ['list'], '/in': ['*'] } });
      assert.equal(bob.name, 'bob');
      assert.deepEqual(bob.requiredMethods, ['publickey', 'password']);
      assert.deepEqual(bob.permissions, { '/': ['*'] });
      assert.equal(bob.disabled, false);
      const alice = await store.users.findByName('alice');
      assert.deepEqual(alice?.permissions, { '/': ['list'], '/in': ['*'] });
      assert.equal(alice?.passwordHash, null);
      assert.deepEqual(
        (await store.users.list()).map((u) => u.name),
        ['alice', 'bob'],
      );
      assert.equal(await store.users.remove('bob'), true);
      assert.equal(await store.users.remove('bob'), false);
      assert.equal(await store.users.findByName('bob'), undefined);
    }));

  test(`${name}: users are paged by name after a key, each with only its own public keys`, () =>
    withStore(async (store) => {
      for (const n of ['dave', 'amy', 'carl', 'bea', 'eve']) await store.users.create({ name: n });
      await store.users.addPublicKey('carl', {
        algorithm: 'ssh-ed25519',
        blob: Buffer.from('carl'),
        comment: 'carl@x',
        fingerprint: 'SHA256:carl',
        options: '',
      });
      const names = async (after: string | undefined, limit: number) =>
        (await store.users.page(after, limit)).map((u) => u.name);
      assert.deepEqual(await names(undefined, 2), ['amy', 'bea']);
      assert.deepEqual(await names('bea', 2), ['carl', 'dave']);
      assert.deepEqual(await names('dave', 2), ['eve']);
      assert.deepEqual(await names('eve', 2), []);
      const [carl, dave] = await store.users.page('bea', 2);
      assert.deepEqual(
        carl?.publicKeys.map((k) => k.fingerprint),
        ['SHA256:carl'],
      );
      assert.deepEqual(dave?.publicKeys, []);
    }));

  test(`${name}: users are paged under each sort, both ways, each once, ties broken by name`, () =>
    withStore(async (store) => {
      // Created in a burst (several in one millisecond: ties) and some changed later (updated differs).
      for (const n of ['dave', 'amy', 'carl', 'bea', 'eve', 'fay', 'gus'])
        await store.users.create({ name: n });
      await new Promise((r) => setTimeout(r, 5));
      await store.users.update('bea', { disabled: true });
      await store.users.update('amy', { disabled: true });
      const all = await store.users.list();
      const fieldOf = { name: 'name', created: 'createdAt', updated: 'updatedAt' } as const;
      for (const by of USER_SORT_COLUMNS)
        for (const descending of [false, true]) {
          const keyOf = (u: (typeof all)[number]) => {
            const v = u[fieldOf[by]];
            return typeof v === 'string' ? v : v.toISOString();
          };
          const expected = [...all]
            .sort((a, b) => {
              const c = keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a.name < b.name ? -1 : 1;
              return descending ? -c : c;
            })
            .map((u) => u.name);
          const seen: string[] = [];
          let after: { key: string; name: string } | undefined;
          for (;;) {
            const page = await store.users.sortedPage({ by, descending }, after, 2);
            seen.push(...page.map((u) => u.name));
            const last = page.at(-1);
            if (page.length < 2 || !last) break;
            after = { key: keyOf(last), name: last.name };
          }
          assert.deepEqual(seen, expected, `${descending ? '-' : ''}${by}`);
        }
    }));

  test(`${name}: a duplicate user name is refused and changes nothing`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'carol', passwordHash: 'first' });
      await assert.rejects(store.users.create({ name: 'carol', passwordHash: 'second' }), {
        code: 'ERR_ALREADY_EXISTS',
      });
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

  test(`${name}: password history keeps the newest N hashes, newest first, and leaves with the user`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'ph', passwordHash: 'h0' });
      for (const h of ['h1', 'h2', 'h3']) await store.users.rememberPasswordHash('ph', h, 2);
      assert.deepEqual(await store.users.recentPasswordHashes('ph', 10), ['h3', 'h2']);
      assert.deepEqual(await store.users.recentPasswordHashes('ph', 1), ['h3']);
      await store.users.rememberPasswordHash('ph', 'h4', 0);
      assert.deepEqual(await store.users.recentPasswordHashes('ph', 10), [], 'keep 0: none kept');
      const when = new Date('2026-11-01T00:00:00.000Z');
      const u = await store.users.update('ph', { passwordChangedAt: when, mustChangePassword: true });
      assert.equal(u?.passwordChangedAt?.toISOString(), when.toISOString());
      assert.equal(u?.mustChangePassword, true);
      await store.users.rememberPasswordHash('ph', 'h5', 3);
      await store.users.remove('ph');
      await store.users.create({ name: 'ph' });
      assert.deepEqual(await store.users.recentPasswordHashes('ph', 10), []);
      assert.equal((await store.users.findByName('ph'))?.mustChangePassword, false);
    }));

  test(`${name}: a user's storage encryption is the server's until set on or off, and back`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'enc' });
      assert.equal((await store.users.findByName('enc'))?.storageEncryption, null);
      assert.equal((await store.users.update('enc', { storageEncryption: true }))?.storageEncryption, true);
      assert.equal((await store.users.update('enc', { storageEncryption: false }))?.storageEncryption, false);
      assert.equal((await store.users.update('enc', { uploadRate: 5 }))?.storageEncryption, false, 'kept');
      assert.equal((await store.users.update('enc', { storageEncryption: null }))?.storageEncryption, null);
    }));

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

  // The store does not hash (audit/ does): these records only need distinct, linked-looking values.
  const chained =
    (entries: { at: string; action: AuditAction; user?: string }[]) =>
    (head: { seq: number; hash: string } | undefined): AuditRecord[] => {
      let seq = head?.seq ?? 0;
      let prev = head?.hash ?? 'genesis';
      return entries.map((e) => {
        seq++;
        const record: AuditRecord = {
          seq,
          at: e.at,
          action: e.action,
          user: e.user ?? null,
          sessionId: null,
          address: null,
          protocol: null,
          path: `/f${seq}`,
          target: null,
          result: 'ok',
          reason: null,
          detail: '{}',
          prevHash: prev,
          hash: `h${seq}`,
        };
        prev = record.hash;
        return record;
      });
    };

  test(`${name}: audit appends continue the chain from the head read in the same transaction`, () =>
    withStore(async (store) => {
      const first = await store.audit.append(
        chained([
          { at: '2026-01-01T00:00:00.000Z', action: 'connect' },
          { at: '2026-01-02T00:00:00.000Z', action: 'upload', user: 'bob' },
        ]),
      );
      assert.deepEqual(
        first.map((r) => [r.seq, r.prevHash]),
        [
          [1, 'genesis'],
          [2, 'h1'],
        ],
      );
      const heads: unknown[] = [];
      await Promise.all([
        store.audit.append((head) => {
          heads.push(head);
          return chained([{ at: '2026-01-03T00:00:00.000Z', action: 'download', user: 'bob' }])(head);
        }),
        store.audit.append((head) => {
          heads.push(head);
          return chained([{ at: '2026-01-04T00:00:00.000Z', action: 'admin', user: 'root' }])(head);
        }),
      ]);
      assert.deepEqual(heads, [
        { seq: 2, hash: 'h2' },
        { seq: 3, hash: 'h3' },
      ]);
      const all = await store.audit.page({ limit: 100 });
      assert.deepEqual(
        all.map((r) => [r.seq, r.prevHash, r.path]),
        [
          [1, 'genesis', '/f1'],
          [2, 'h1', '/f2'],
          [3, 'h2', '/f3'],
          [4, 'h3', '/f4'],
        ],
      );
      assert.equal(all[1]?.user, 'bob');
      assert.equal(all[1]?.detail, '{}');
    }));

  test(`${name}: audit appends of any size keep every field in its column, batch after batch of the same size`, () =>
    withStore(async (store) => {
      // Each field distinct per record, so a column bound to another's value shows; sizes repeat (INSERT texts
      // are reused per row count) and cross the 64-row chunk.
      const full = (head: AuditChainHead | undefined, count: number, action: AuditAction): AuditRecord[] => {
        let seq = head?.seq ?? 0;
        let prev = head?.hash ?? 'genesis';
        return Array.from({ length: count }, () => {
          seq++;
          const record: AuditRecord = {
            seq,
            at: `2026-02-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
            action,
            user: `user${seq}`,
            sessionId: `session${seq}`,
            address: `10.0.0.${seq % 250}`,
            protocol: 'ssh',
            path: `/path${seq}`,
            target: `/target${seq}`,
            result: seq % 2 === 0 ? 'ok' : 'failed',
            reason: `reason${seq}`,
            detail: `{"n":${seq}}`,
            prevHash: prev,
            hash: `hash${seq}`,
            node: `node${seq}`,
          };
          prev = record.hash;
          return record;
        });
      };
      const written: AuditRecord[] = [];
      for (const count of [1, 3, 1, 3, 130, 64, 1]) {
        written.push(...(await store.audit.append((head) => full(head, count, 'upload'))));
      }
      written.push(...(await store.audit.append((head) => full(head, 1, 'checkpoint'))));
      const stored = await store.audit.page({ limit: 1000 });
      assert.deepEqual(stored, written);
      let checkpointHead: AuditChainHead | undefined;
      await store.audit.append((head) => {
        checkpointHead = head;
        return full(head, 2, 'upload');
      });
      assert.deepEqual(checkpointHead, { seq: 204, hash: 'hash204', lastCheckpointSeq: 204 });
    }));

  test(`${name}: audit pages filter by user, action and time, and page by seq`, () =>
    withStore(async (store) => {
      const days = ['01', '02', '03', '04', '05', '06'];
      await store.audit.append(
        chained(
          days.map((d, i) => ({
            at: `2026-01-${d}T00:00:00.000Z`,
            action: i % 2 === 0 ? ('upload' as const) : ('download' as const),
            user: i < 3 ? 'ann' : 'ben',
          })),
        ),
      );
      const seqs = (records: AuditRecord[]) => records.map((r) => r.seq);
      assert.deepEqual(seqs(await store.audit.page({ user: 'ann', limit: 10 })), [1, 2, 3]);
      assert.deepEqual(seqs(await store.audit.page({ actions: ['download'], limit: 10 })), [2, 4, 6]);
      assert.deepEqual(
        seqs(
          await store.audit.page({
            since: '2026-01-02T00:00:00.000Z',
            until: '2026-01-04T00:00:00.000Z',
            limit: 10,
          }),
        ),
        [2, 3],
      );
      assert.deepEqual(seqs(await store.audit.page({ afterSeq: 2, throughSeq: 5, limit: 2 })), [3, 4]);
      assert.deepEqual(seqs(await store.audit.tail(2)), [5, 6]);
      assert.equal((await store.audit.latest('upload'))?.seq, 5);
      assert.equal(await store.audit.latest('prune'), undefined);
      assert.deepEqual(await store.audit.seqRange('2026-01-03T00:00:00.000Z'), { first: 3, last: 6 });
      assert.equal(await store.audit.seqRange('2027-01-01T00:00:00.000Z'), undefined);
    }));

  test(`${name}: audit prune deletes through the newest old record and appends the cut record in one go`, () =>
    withStore(async (store) => {
      await store.audit.append(
        chained(
          ['01', '02', '03', '04'].map((d) => ({
            at: `2026-01-${d}T00:00:00.000Z`,
            action: 'upload' as const,
          })),
        ),
      );
      assert.equal(
        await store.audit.prune('2026-01-01T00:00:00.000Z', () => assert.fail('nothing is older')),
        undefined,
      );
      const pruned = await store.audit.prune('2026-01-03T00:00:00.000Z', (cut, head) => {
        assert.deepEqual(cut, { firstKeptSeq: 3, prevHash: 'h2', deleted: 2 });
        assert.deepEqual(head, { seq: 4, hash: 'h4' });
        return chained([{ at: '2026-02-01T00:00:00.000Z', action: 'prune' }])(head);
      });
      assert.equal(pruned?.records[0]?.seq, 5);
      assert.deepEqual(
        (await store.audit.page({ limit: 10 })).map((r) => r.seq),
        [3, 4, 5],
      );
    }));
  const partner = (name: string) => ({
    name,
    host: 'sftp.example.com',
    port: 22,
    username: 'ferry',
    passwordSealed: 'v1:sealed',
    clientKey: null,
    hostKeyAlgorithm: null,
    hostKeySha256: null,
    renameUploads: true,
    readBack: false,
    algorithms: 'modern' as const,
  });
  const job = (name: string, partnerName: string) => ({
    name,
    partner: partnerName,
    direction: 'pull' as const,
    remoteDir: '/out',
    localDir: '/in',
    pattern: '*.csv',
    schedule: '*/5 * * * *',
    after: 'keep',
    retries: 2,
    backoffMs: 30_000,
    enabled: true,
  });

  test(`${name}: partners are created once, pinned, listed and not removed while a job uses them`, () =>
    withStore(async (store) => {
      await store.partners.create(partner('bank'));
      await assert.rejects(store.partners.create(partner('bank')), { code: 'ERR_ALREADY_EXISTS' });
      const pinned = await store.partners.update('bank', {
        hostKeyAlgorithm: 'ssh-ed25519',
        hostKeySha256: 'SHA256:abc',
        renameUploads: false,
      });
      assert.equal(pinned?.hostKeySha256, 'SHA256:abc');
      assert.equal(pinned?.renameUploads, false);
      assert.equal(pinned?.algorithms, 'modern');
      assert.equal((await store.partners.update('bank', { algorithms: 'compat' }))?.algorithms, 'compat');
      assert.equal((await store.partners.get('bank'))?.algorithms, 'compat');
      assert.equal(pinned?.passwordSealed, 'v1:sealed');
      assert.equal(pinned?.protocol, 'sftp', 'SFTP unless said otherwise');
      const ftps = await store.partners.create({
        ...partner('ftp'),
        protocol: 'ftps',
        tlsCaFile: '/etc/ca.pem',
      });
      assert.deepEqual([ftps.protocol, ftps.tlsCaFile], ['ftps', '/etc/ca.pem']);
      const implicit = await store.partners.update('ftp', { protocol: 'ftps-implicit', tlsCaFile: null });
      assert.deepEqual([implicit?.protocol, implicit?.tlsCaFile], ['ftps-implicit', null]);
      assert.equal(await store.partners.remove('ftp'), true);
      assert.equal(await store.partners.update('nobody', { port: 2 }), undefined);
      await store.transferJobs.create(job('statements', 'bank'));
      await assert.rejects(store.transferJobs.create(job('x', 'nobody')), { code: 'ERR_NOT_FOUND' });
      await assert.rejects(store.transferJobs.create(job('statements', 'bank')), {
        code: 'ERR_ALREADY_EXISTS',
      });
      await assert.rejects(store.partners.remove('bank'), { code: 'ERR_INVALID_ARGUMENT' });
      assert.equal(await store.transferJobs.remove('statements'), true);
      assert.equal(await store.partners.remove('bank'), true);
      assert.deepEqual(await store.partners.list(), []);
    }));

  test(`${name}: a job's run lock is held by one owner until released or its lease runs out`, () =>
    withStore(async (store) => {
      await store.partners.create(partner('p'));
      const created = await store.transferJobs.create(job('j', 'p'));
      assert.equal(created.partner, 'p');
      assert.equal(created.pattern, '*.csv');
      const t0 = new Date('2026-01-01T00:00:00Z');
      const later = (s: number) => new Date(t0.getTime() + s * 1000);
      assert.equal(await store.transferJobs.acquireLock('j', 'a', later(60), t0), true);
      assert.equal(await store.transferJobs.acquireLock('j', 'b', later(60), later(1)), false);
      assert.equal(await store.transferJobs.renewLock('j', 'b', later(120)), false);
      assert.equal(await store.transferJobs.renewLock('j', 'a', later(120)), true);
      assert.equal(await store.transferJobs.acquireLock('j', 'b', later(200), later(100)), false);
      // A crashed holder's lease expires.
      assert.equal(await store.transferJobs.acquireLock('j', 'b', later(300), later(121)), true);
      await store.transferJobs.releaseLock('j', 'a');
      assert.equal(await store.transferJobs.acquireLock('j', 'c', later(400), later(122)), false);
      await store.transferJobs.releaseLock('j', 'b');
      assert.equal(await store.transferJobs.acquireLock('j', 'c', later(400), later(122)), true);
      const disabled = await store.transferJobs.update('j', { enabled: false, lastScheduledAt: t0 });
      assert.equal(disabled?.enabled, false);
      assert.equal(disabled?.lastScheduledAt?.toISOString(), t0.toISOString());
      // A schedule slot is claimed once: by the first process to fire it, however late the others are.
      assert.equal(await store.transferJobs.claimSlot('j', later(1), later(1)), true);
      assert.equal(await store.transferJobs.claimSlot('j', later(1), later(1)), false);
      assert.equal(await store.transferJobs.claimSlot('j', t0, t0), false, 'an older slot stays handled');
      assert.equal(await store.transferJobs.claimSlot('j', later(2), later(30)), true);
      assert.equal(
        await store.transferJobs.claimSlot('j', later(29), later(29)),
        false,
        'covered by the mark',
      );
      assert.equal(
        (await store.transferJobs.get('j'))?.lastScheduledAt?.toISOString(),
        later(30).toISOString(),
      );
    }));

  test(`${name}: runs are recorded newest first and the ledger remembers files per job`, () =>
    withStore(async (store) => {
      await store.partners.create(partner('p'));
      await store.transferJobs.create(job('j', 'p'));
      const first = await store.transferRuns.start('j', 'manual', new Date('2026-01-01T00:00:00Z'));
      assert.equal(first.status, 'running');
      const file = { path: 'a.csv', bytes: 3, resumedFrom: 0, sha256: 'ab', verified: 'size', durationMs: 5 };
      await store.transferRuns.finish(
        first.id,
        { status: 'ok', attempts: 1, files: [file], bytes: 3, durationMs: 10, error: null },
        new Date('2026-01-01T00:00:01Z'),
      );
      const second = await store.transferRuns.start('j', 'schedule', new Date('2026-01-02T00:00:00Z'));
      await store.transferRuns.finish(
        second.id,
        { status: 'failed', attempts: 3, files: [], bytes: 0, durationMs: 1, error: 'boom' },
        new Date('2026-01-02T00:00:01Z'),
      );
      const history = await store.transferRuns.history('j', 10);
      assert.deepEqual(
        history.map((r) => [r.trigger, r.status, r.attempts, r.error]),
        [
          ['schedule', 'failed', 3, 'boom'],
          ['manual', 'ok', 1, null],
        ],
      );
      assert.deepEqual(history[1]?.files, [file]);
      await store.transferRuns.remember('j', { path: 'a.csv', size: 3, mtime: 100, sha256: null });
      await store.transferRuns.remember('j', { path: 'a.csv', size: 4, mtime: 200, sha256: 'cd' });
      const ledger = await store.transferRuns.ledger('j');
      assert.deepEqual([...ledger.values()], [{ path: 'a.csv', size: 4, mtime: 200, sha256: 'cd' }]);
      await store.transferJobs.remove('j');
      await assert.rejects(store.transferRuns.ledger('j'), { code: 'ERR_NOT_FOUND' });
    }));

  test(`${name}: a one-time code step and a recovery code are each spent once, even by concurrent logins`, () =>
    withStore(async (store) => {
      await store.users.create({ name: 'tess', passwordHash: 'h' });
      await store.accounts.setTotp('tess', { secretSealed: 'sealed', recoveryHashes: ['r1', 'r2', 'r3'] });
      const steps = await Promise.all(
        Array.from({ length: 20 }, () => store.accounts.advanceTotpStep('tess', 7)),
      );
      assert.equal(steps.filter(Boolean).length, 1, 'one of 20 concurrent advances to the same step wins');
      assert.equal(await store.accounts.advanceTotpStep('tess', 6), false, 'an older step is refused');
      assert.equal(await store.accounts.advanceTotpStep('tess', 8), true);

      const all = ['r1', 'r2', 'r3'];
      const swaps = await Promise.all(
        Array.from({ length: 20 }, () => store.accounts.replaceRecoveryHashes('tess', all, ['r2', 'r3'])),
      );
      assert.equal(swaps.filter(Boolean).length, 1, 'one of 20 concurrent compare-and-sets wins');
      assert.equal(
        await store.accounts.replaceRecoveryHashes('tess', all, ['r1', 'r3']),
        false,
        'a stale expectation changes nothing',
      );
      assert.deepEqual((await store.accounts.getTotp('tess'))?.recoveryHashes, ['r2', 'r3']);
      assert.equal(await store.accounts.replaceRecoveryHashes('nobody', [], []), false);
    }));

  test(`${name}: API keys are found by hash only, named once, touched and removed`, () =>
    withStore(async (store) => {
      const added = await store.apiKeys.add({
        name: 'deploy',
        role: 'operator',
        keyHash: 'a'.repeat(64),
        prefix: 'ferry_abcdef',
        expiresAt: null,
        createdBy: 'cli:root',
      });
      assert.deepEqual([added.name, added.role, added.lastUsedAt], ['deploy', 'operator', null]);
      assert.equal((await store.apiKeys.findByHash('a'.repeat(64)))?.name, 'deploy');
      assert.equal(await store.apiKeys.findByHash('b'.repeat(64)), undefined);
      await assert.rejects(store.apiKeys.add({ ...added, keyHash: 'c'.repeat(64) }), {
        code: 'ERR_ALREADY_EXISTS',
      });
      const at = new Date('2026-11-30T10:00:00.000Z');
      await store.apiKeys.touch(added.id, at);
      assert.deepEqual(
        (await store.apiKeys.list()).map((k) => k.lastUsedAt),
        [at],
      );
      assert.equal(await store.apiKeys.remove('deploy'), true);
      assert.equal(await store.apiKeys.remove('deploy'), false);
    }));

  test(`${name}: removing an administrator account ends its console sessions`, () =>
    withStore(async (store) => {
      await store.apiAdmins.add({ name: 'carol', passwordHash: 'h', role: 'auditor' });
      await assert.rejects(store.apiAdmins.add({ name: 'carol', passwordHash: 'h', role: 'admin' }), {
        code: 'ERR_ALREADY_EXISTS',
      });
      const now = new Date('2026-11-30T10:00:00.000Z');
      const later = new Date(now.getTime() + 3_600_000);
      await store.apiSessions.add({
        idHash: 's1',
        adminName: 'carol',
        csrfToken: 't',
        createdAt: now,
        expiresAt: later,
      });
      await store.apiSessions.add({
        idHash: 's2',
        adminName: 'carol',
        csrfToken: 't',
        createdAt: now,
        expiresAt: now,
      });
      assert.equal((await store.apiSessions.find('s1'))?.adminName, 'carol');
      assert.equal(await store.apiSessions.removeExpired(now), 1);
      assert.equal(await store.apiSessions.find('s2'), undefined);
      assert.equal(await store.apiAdmins.setPassword('carol', 'h2'), true);
      assert.equal((await store.apiAdmins.get('carol'))?.passwordHash, 'h2');
      assert.equal(await store.apiAdmins.setRole('carol', 'operator'), true);
      assert.equal((await store.apiAdmins.get('carol'))?.role, 'operator');
      assert.equal(await store.apiAdmins.setRole('nobody', 'operator'), false);
      assert.equal(await store.apiAdmins.remove('carol'), true);
      assert.equal(await store.apiSessions.find('s1'), undefined, 'its sessions went with it');
    }));
}
