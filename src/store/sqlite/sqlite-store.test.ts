import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runStoreContract } from '../contract.js';
import { openSqliteStore } from './sqlite-store.js';

runStoreContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('the SQLite file is private and survives a reopen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const first = await openSqliteStore(file);
    await first.users.create({ name: 'frank', passwordHash: 'h' });
    await first.close();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const second = await openSqliteStore(file);
    assert.equal((await second.users.findByName('frank'))?.passwordHash, 'h');
    await second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
