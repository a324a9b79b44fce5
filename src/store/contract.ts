// The contract every store driver passes (runStoreContract): users, keys, audit, partners and jobs, one-time codes, API accounts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runAuditStoreContract } from './audit-contract-fixture.js';
import { type MakeStore, storeRunner } from './contract-support.js';
import { runKeyStoreContract } from './key-contract-fixture.js';
import { USER_SORT_COLUMNS } from './types.js';

export function runStoreContract(name: string, makeStore: MakeStore): void {
  const withStore = storeRunner(makeStore);

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

  runKeyStoreContract(name, makeStore);
  runAuditStoreContract(name, makeStore);

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
