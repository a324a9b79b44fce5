import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
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

test('a read-only open writes nothing, and upgrades a store from an older Ferry when it can', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-'));
  try {
    const file = join(dir, 'ferry.db');
    const writable = await openSqliteStore(file);
    await writable.users.create({ name: 'olga', passwordHash: 'h' });
    await writable.close();
    // As an older Ferry left it: the newest migration not run yet.
    const raw = new SqliteDatabase(file);
    raw.exec("DELETE FROM kysely_migration WHERE name = '0006_totp_previous_rule'");
    raw.exec('ALTER TABLE users DROP COLUMN required_methods_before_totp');
    raw.close();
    const upgraded = await openSqliteStore(file, { readonly: true });
    assert.equal((await upgraded.users.findByName('olga'))?.requiredMethodsBeforeTotp, null);
    await upgraded.close();
    const before = (await stat(file)).mtimeMs;
    const reader = await openSqliteStore(file, { readonly: true });
    assert.equal((await reader.users.list()).length, 1);
    await assert.rejects(reader.users.create({ name: 'x' }), /readonly/i);
    await reader.close();
    assert.equal((await stat(file)).mtimeMs, before);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
