// The host key poll of a running server: nothing is decrypted while the stored keys stay as they were, and a
// change (a key added, promoted or retired) is read, decrypted and presented at the next poll.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from './config/load.js';
import { AppContext } from './context.js';
import { HostKeyManager, type HostKeyMaterial } from './key-manager/host-keys.js';
import { hostKeyReloader } from './server-host-keys.js';

test('the host key poll decrypts the keys only when what is stored changed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-host-key-poll-'));
  const ctx = await AppContext.create(
    loadConfig({ env: {}, flags: { dataDir: join(dir, 'data') } }),
    'create',
  );
  try {
    await ctx.hostKeys.generate('ed25519');
    const initial = await ctx.hostKeys.liveMaterial();
    // ctx.hostKeys is a new manager each time it is read: count on the class.
    let decrypted = 0;
    const materialOf = HostKeyManager.prototype.materialOf;
    t.after(() => {
      HostKeyManager.prototype.materialOf = materialOf;
    });
    HostKeyManager.prototype.materialOf = function (this: HostKeyManager, records) {
      decrypted++;
      return materialOf.call(this, records);
    };
    const presented: HostKeyMaterial[][] = [];
    const reload = hostKeyReloader({
      ctx,
      graceDays: 7,
      initial,
      present: (keys) => presented.push(keys),
      log: pino({ level: 'silent' }),
    });

    for (let poll = 0; poll < 3; poll++) assert.equal(await reload(), false);
    assert.equal(decrypted, 0, 'unchanged keys are compared as stored, not decrypted');

    const added = await ctx.hostKeys.generate('ecdsa');
    assert.equal(await reload(), true);
    assert.equal(decrypted, 1);
    assert.deepEqual(
      presented.at(-1)?.map((k) => [k.sha256, k.state]),
      [
        [(await ctx.hostKeys.list())[0]!.sha256, 'active'],
        [added.sha256, 'pending'],
      ],
    );
    assert.match(presented.at(-1)![1]!.privateKey, /BEGIN OPENSSH PRIVATE KEY/);

    assert.equal(await reload(), false);
    await ctx.hostKeys.promote(added.id);
    assert.equal(await reload(), true, 'a promotion is a change');
    assert.equal(presented.at(-1)?.[1]?.state, 'active');
    assert.equal(decrypted, 2);
  } finally {
    await ctx.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
