import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import ssh2 from 'ssh2';
import { MasterKey } from '../keys/sealing.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/types.js';
import { HostKeyManager, presentedHostKeys } from './host-keys.js';

let dir: string;
let store: Store;
let manager: HostKeyManager;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-hostkeys-'));
  store = await openSqliteStore(join(dir, 'ferry.db'));
  manager = new HostKeyManager(store.hostKeys, MasterKey.load(undefined, join(dir, 'master.key')));
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

test('the first start generates ed25519, ecdsa-p256 and rsa-3072 once, sealed in the store', async () => {
  const made = await manager.ensureDefaults();
  assert.deepEqual(
    made.map((k) => [k.algorithm, k.bits, k.active]),
    [
      ['ssh-ed25519', 256, true],
      ['ecdsa-sha2-nistp256', 256, true],
      ['ssh-rsa', 3072, true],
    ],
  );
  assert.deepEqual(await manager.ensureDefaults(), [], 'nothing generated the second time');
  for (const record of made) {
    assert.match(record.privateSealed, /^v1:/);
    assert.ok(!record.privateSealed.includes('OPENSSH'), 'no clear private key in the store');
  }
});

test('the material given to the server matches ssh-keygen fingerprints and signs verifiably', async () => {
  const material = await manager.activeMaterial();
  assert.equal(material.length, 3);
  for (const key of material) {
    const file = join(dir, `key-${key.id}`);
    await writeFile(file, key.privateKey, { mode: 0o600 });
    const listed = execFileSync('ssh-keygen', ['-lf', file]).toString().split(' ');
    assert.equal(listed[1], key.sha256);
    assert.equal(execFileSync('ssh-keygen', ['-E', 'md5', '-lf', file]).toString().split(' ')[1], key.md5);
    const data = Buffer.from('prove it');
    for (const rsa of ['rsa-sha2-256', 'rsa-sha2-512'] as const) {
      const blob = key.sign(data, rsa);
      const algLen = blob.readUInt32BE(0);
      const alg = blob.subarray(4, 4 + algLen).toString();
      const sig = blob.subarray(8 + algLen);
      const pub = ssh2.utils.parseKey(Buffer.concat([Buffer.from([0, 0, 0, 0]), key.publicBlob]).subarray(4));
      assert.ok(!(pub instanceof Error) && !Array.isArray(pub));
      if (key.algorithm === 'ssh-rsa') assert.equal(alg, rsa);
      else assert.equal(alg, key.algorithm);
      const hash = alg === 'rsa-sha2-256' ? 'sha256' : alg === 'rsa-sha2-512' ? 'sha512' : undefined;
      if (alg.startsWith('ecdsa-')) {
        // SSH form: mpint r, mpint s; node verifies the fixed-width r||s form.
        const inner = sig;
        const rLen = inner.readUInt32BE(0);
        const r = inner.subarray(4, 4 + rLen);
        const s = inner.subarray(8 + rLen, 8 + rLen + inner.readUInt32BE(4 + rLen));
        const fixed = (n: Buffer) => Buffer.concat([Buffer.alloc(32), n]).subarray(-32);
        const ok = verify(
          'sha256',
          data,
          { key: pub.getPublicPEM(), dsaEncoding: 'ieee-p1363' },
          Buffer.concat([fixed(r), fixed(s)]),
        );
        assert.equal(ok, true, alg);
      } else {
        assert.equal(pub.verify(data, sig, hash), true, `${key.algorithm} ${alg}`);
      }
    }
  }
});

test('a new key is pending: announced, not presented, until promoted; the old one is presented until retired', async () => {
  const [old] = (await manager.list()).filter((k) => k.algorithm === 'ssh-ed25519');
  const fresh = await manager.generate('ed25519');
  assert.equal(fresh.state, 'pending');
  const presentedIds = async () => presentedHostKeys(await manager.liveMaterial()).map((k) => k.id);
  assert.ok((await manager.liveMaterial()).some((k) => k.id === fresh.id && k.state === 'pending'));
  assert.ok(!(await manager.activeMaterial()).some((k) => k.id === fresh.id));
  assert.ok((await presentedIds()).includes(old!.id));
  assert.ok(!(await presentedIds()).includes(fresh.id));

  assert.equal((await manager.promote(fresh.id)).state, 'active');
  await assert.rejects(manager.promote(fresh.id), /is active, not pending/);
  assert.ok((await presentedIds()).includes(old!.id), 'the old key is presented until retired');
  assert.ok(!(await presentedIds()).includes(fresh.id));

  await manager.retire(old!.id);
  assert.ok((await presentedIds()).includes(fresh.id));
  assert.ok(
    !(await manager.liveMaterial()).some((k) => k.id === old!.id),
    'a retired key is not even announced',
  );
  await assert.rejects(manager.retire(old!.id), /already retired/);
  await assert.rejects(manager.retire(424242), /no host key/);
  await assert.rejects(manager.promote(424242), /no host key/);
});

test('the grace period promotes pending keys once they have been announced long enough', async () => {
  const key = await manager.generate('rsa', 2048);
  assert.deepEqual(
    await manager.promoteDue(0, new Date(Date.now() + 365 * 86_400_000)),
    [],
    '0: manual only',
  );
  assert.deepEqual(await manager.promoteDue(2, new Date(Date.now() + 86_400_000)), [], 'not yet');
  const promoted = await manager.promoteDue(2, new Date(Date.now() + 2 * 86_400_000 + 1000));
  assert.deepEqual(
    promoted.map((k) => [k.id, k.state]),
    [[key.id, 'active']],
  );
  assert.deepEqual(await manager.promoteDue(2, new Date(Date.now() + 3 * 86_400_000)), [], 'promoted once');
});

test('retiring keeps at least one active key; a pending key can be withdrawn', async () => {
  const pending = await manager.generate('ed25519');
  await manager.retire(pending.id);
  assert.equal((await manager.list()).find((k) => k.id === pending.id)?.state, 'retired');
  const active = await manager.activeMaterial();
  const [last, ...others] = active;
  for (const key of others) await manager.retire(key.id);
  await assert.rejects(manager.retire(last!.id), /last active host key/);
});

test('only one key per algorithm is presented, the one promoted earliest, whatever the type', () => {
  const key = (id: number, algorithm: string, state: 'pending' | 'active', activated: number | null) => ({
    id,
    algorithm,
    state,
    activatedAt: activated === null ? null : new Date(activated),
  });
  const keys = [
    key(1, 'ssh-rsa', 'active', 100),
    key(2, 'ssh-ed25519', 'active', 100),
    key(3, 'ssh-rsa', 'pending', null),
    key(4, 'ssh-ed25519', 'active', 50),
    key(5, 'ssh-rsa', 'active', 200),
    key(6, 'ecdsa-sha2-nistp256', 'pending', null),
  ];
  assert.deepEqual(
    presentedHostKeys(keys).map((k) => k.id),
    [1, 4],
  );
});

test('an imported key is refused twice and with a wrong passphrase', async () => {
  const file = join(dir, 'imported');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pass phrase', '-f', file]);
  const { readFileSync } = await import('node:fs');
  const { Secret } = await import('../util/secret.js');
  await assert.rejects(manager.import(readFileSync(file), new Secret('wrong')), /wrong passphrase/);
  const imported = await manager.import(readFileSync(file), new Secret('pass phrase'));
  assert.equal(
    imported.sha256,
    execFileSync('ssh-keygen', ['-lf', `${file}.pub`])
      .toString()
      .split(' ')[1],
  );
  await assert.rejects(manager.import(readFileSync(file), new Secret('pass phrase')), /already stored/);
});
