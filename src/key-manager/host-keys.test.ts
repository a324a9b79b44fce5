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
import { HostKeyManager } from './host-keys.js';

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

test('retiring keeps at least one active key and removes the key from what the server presents', async () => {
  const fresh = await manager.generate('ed25519');
  const before = (await manager.list()).filter((k) => k.algorithm === 'ssh-ed25519');
  assert.equal(before.length, 2);
  await manager.retire(before[0]!.id);
  const active = await manager.activeMaterial();
  assert.ok(active.some((k) => k.id === fresh.id));
  assert.ok(!active.some((k) => k.id === before[0]!.id));
  await assert.rejects(manager.retire(before[0]!.id), /already retired/);
  await assert.rejects(manager.retire(424242), /no host key/);
  for (const key of active.filter((k) => k.id !== fresh.id)) await manager.retire(key.id);
  await assert.rejects(manager.retire(fresh.id), /last active host key/);
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
