// Changes that read before they write, while another process commits in between: each waits for the other writer
// and succeeds. A deferred BEGIN read first and then failed with SQLITE_BUSY_SNAPSHOT ("database is locked"),
// which the busy timeout does not cover: `ferry users passwd` run beside `ferry users keys add` failed that way.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Store } from '../types.js';
import { openSqliteStore } from './sqlite-store.js';

const sqliteModule = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Another process takes the write lock, changes a row, and commits after `holdMs`: what a second CLI command or
 * worker does. Resolves once it holds the lock; `committed` once it has let go.
 */
async function otherWriter(file: string, holdMs: number): Promise<{ committed: Promise<void> }> {
  const script = `
    const Database = require(${JSON.stringify(sqliteModule)});
    const db = new Database(${JSON.stringify(file)});
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN IMMEDIATE');
    db.prepare("UPDATE users SET updated_at = ? WHERE name = 'other'").run(new Date().toISOString());
    process.stdout.write('locked\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs});
    db.exec('COMMIT');
    db.close();
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) =>
      reject(new Error(`the other writer exited (${code}) before taking the lock`)),
    );
  });
  return {
    committed: exited.then(([code]) => assert.equal(code, 0, 'the other writer committed')),
  };
}

async function storeWithUsers(t: { after(fn: () => Promise<void>): void }): Promise<[Store, string]> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-write-snapshot-'));
  const file = join(dir, 'ferry.db');
  const store = await openSqliteStore(file);
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  await store.users.create({ name: 'bob' });
  await store.users.create({ name: 'other' });
  await store.groups.create({ name: 'partners' });
  await store.folders.create({ name: 'shared', path: join(dir, 'shared') });
  return [store, file];
}

/** Each change reads, then writes; the other process holds the lock for 300 ms meanwhile, then commits. */
const CHANGES: Record<string, (store: Store) => Promise<unknown>> = {
  'a password change with history': (store) => store.users.rememberPasswordHash('bob', 'hash-2', 3),
  'a group membership': (store) => store.groups.addSecondary('bob', 'partners'),
  'a primary group': (store) => store.groups.setPrimary('bob', 'partners'),
  'a folder mount': (store) =>
    store.folders.mount({ kind: 'user', name: 'bob' }, 'shared', '/shared', ['list']),
  'a user removal': (store) => store.users.remove('bob'),
  'a group removal': (store) => store.groups.remove('partners'),
};

for (const [what, change] of Object.entries(CHANGES)) {
  test(`${what} waits for another process's write and succeeds`, async (t) => {
    const [store, file] = await storeWithUsers(t);
    const other = await otherWriter(file, 300);
    await change(store);
    await other.committed;
  });
}

test('the changes made beside the other writer are all there afterwards', async (t) => {
  const [store, file] = await storeWithUsers(t);
  const other = await otherWriter(file, 200);
  await store.users.rememberPasswordHash('bob', 'hash-2', 3);
  await store.groups.addSecondary('bob', 'partners');
  await other.committed;
  assert.deepEqual(await store.users.recentPasswordHashes('bob', 3), ['hash-2']);
  assert.deepEqual(
    (await store.groups.groupsOf('bob')).secondary.map((g) => g.name),
    ['partners'],
  );
});
