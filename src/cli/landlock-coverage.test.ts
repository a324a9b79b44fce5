// What a serving process counts as out of its Landlock rules' reach, and when it reads the store to find out.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { linkedRecord } from '../store/audit-chain-fixture.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { unreachable, watchLandlockCoverage } from './landlock-coverage.js';

test('a rule reaches its directory and what lies beneath, not a sibling sharing its prefix', () => {
  const writable = ['/data', '/srv/homes'];
  assert.deepEqual(
    unreachable(
      ['/srv/homes', '/srv/homes/ann', '/srv/homesick/bob', '/data/x', '/srv/homesick/bob', '/elsewhere'],
      writable,
      new Set(),
    ),
    ['/srv/homesick/bob', '/elsewhere'],
  );
  // One already reported (or that this process was started for and could not make) is not reported again.
  assert.deepEqual(unreachable(['/elsewhere', '/new'], writable, new Set(['/elsewhere'])), ['/new']);
});

test('the store is read again only after an admin change, and each new directory is reported once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-landlock-coverage-'));
  const store = await openSqliteStore(join(dir, 'ferry.db'));
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  let served = ['/srv/a'];
  let reads = 0;
  const reports: (readonly string[])[] = [];
  const errors: unknown[] = [];
  const adminChange = () => store.audit.append((head) => [linkedRecord(head, 'admin', 'users.add', 'admin')]);
  const stop = watchLandlockCoverage({
    audit: store.audit,
    served: async () => {
      reads++;
      return served;
    },
    writable: ['/data', '/srv/a'],
    startedFor: ['/srv/a', '/blocked/home'],
    intervalMs: 20,
    onUnreachable: (paths) => reports.push(paths),
    onError: (err) => errors.push(err),
  });
  t.after(stop);
  await until(() => reads === 1);
  await sleep(150);
  assert.equal(reads, 1, 'the first check reads the store once');
  // A directory the store names without an admin record (not how Ferry changes it): not looked for.
  served = ['/srv/a', '/srv/b', '/blocked/home'];
  await sleep(150);
  assert.equal(reads, 1);
  assert.deepEqual(reports, []);
  await adminChange();
  await until(() => reports.length === 1);
  assert.equal(reads, 2);
  assert.deepEqual(reports, [['/srv/b']], 'the one the process was started for is not asked for again');
  await adminChange();
  await until(() => reads === 3);
  await sleep(150);
  assert.deepEqual(reports, [['/srv/b']], 'reported once');
  assert.deepEqual(errors, []);
});

/** Waits (5 s at most) for `done`: timers run late on a loaded machine. */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !done(); await sleep(10))
    if (Date.now() > deadline) throw new Error('timed out');
}

test('without Landlock in force nothing is watched', async () => {
  let reads = 0;
  const stop = watchLandlockCoverage({
    audit: {
      latest: async () => {
        reads++;
        return undefined;
      },
    },
    served: async () => {
      reads++;
      return ['/x'];
    },
    writable: [],
    startedFor: [],
    intervalMs: 10,
    onUnreachable: () => assert.fail('nothing is out of reach without Landlock'),
    onError: (err) => assert.fail(String(err)),
  });
  await sleep(60);
  stop();
  assert.equal(reads, 0);
});
