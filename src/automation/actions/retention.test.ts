import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FileOperationEvent } from '../../events/types.js';
import { rootLogger } from '../../logger.js';
import type { RetentionAction } from '../types.js';
import { contextOf, deliveryOf, makeUserHomes, ruleOf } from './action-fixture.js';
import { createRetentionRunner } from './retention.js';

const DAY = 86_400_000;
const NOW = Date.now();

/** Writes `size` bytes to `path` and sets its modification time `days` days back. */
async function aged(path: string, days: number, size = 10): Promise<void> {
  await writeFile(path, Buffer.alloc(size, 1));
  const when = new Date(NOW - days * DAY);
  await utimes(path, when, when);
}

async function setup(t: { after(fn: () => Promise<void>): void }, permissions?: Record<string, string[]>) {
  const homes = await makeUserHomes();
  t.after(() => homes.cleanup());
  const home = await homes.addUser('alice', permissions as never);
  await mkdir(join(home, 'logs', '2026'), { recursive: true });
  await aged(join(home, 'logs', 'a.log'), 10, 100);
  await aged(join(home, 'logs', 'b.log'), 8, 50);
  await aged(join(home, 'logs', '2026', 'c.log'), 9, 25);
  await aged(join(home, 'logs', 'd.log'), 1);
  await aged(join(home, 'logs', 'e.log'), 0);
  await aged(join(home, 'keep.log'), 30);
  const runner = createRetentionRunner({
    ...homes,
    users: homes.store.users,
    log: rootLogger.child({ logger: 'test' }),
    now: () => NOW,
  });
  const sweep = async (action: Partial<RetentionAction>) => {
    const full: RetentionAction = { kind: 'retention', user: 'alice', path: '/logs', ...action };
    const rule = ruleOf('sweep', [full], { events: ['schedule'] });
    return runner.run(full, deliveryOf(rule, { event: 'schedule' }, 0, 'schedule'), contextOf(rule));
  };
  const names = async () => (await readdir(join(home, 'logs'), { recursive: true })).sort();
  return { homes, home, sweep, names };
}

test('files older than N days go, younger ones and files outside the path stay; a dry run removes none', async (t) => {
  const { homes, home, sweep, names } = await setup(t);
  const before = await names();
  const dry = await sweep({ olderThanDays: 7, dryRun: true });
  assert.equal(dry.ok, true, dry.error);
  assert.equal(
    dry.output,
    'dry run: would remove 3 files (175 bytes), kept 2\n/logs/a.log\n/logs/b.log\n/logs/2026/c.log',
  );
  assert.deepEqual(await names(), before, 'the dry run removed nothing');
  const done = await sweep({ olderThanDays: 7 });
  assert.equal(
    done.output,
    'removed 3 files (175 bytes), kept 2\n/logs/a.log\n/logs/b.log\n/logs/2026/c.log',
  );
  assert.deepEqual(await names(), ['2026', 'd.log', 'e.log']);
  assert.ok(existsSync(join(home, 'keep.log')), 'outside the swept path');
  // Each removal is the core's own delete, audited as alice in the rule's session.
  const deletes = homes.events.filter(
    (e): e is FileOperationEvent => e.type === 'file-op' && e.operation === 'delete',
  );
  assert.deepEqual(deletes.map((e) => [e.username, e.path, e.ok, e.protocol]).sort(), [
    ['alice', '/logs/2026/c.log', true, 'rule'],
    ['alice', '/logs/a.log', true, 'rule'],
    ['alice', '/logs/b.log', true, 'rule'],
  ]);
  assert.ok(deletes.every((e) => e.sessionId.startsWith('rule:sweep:')));
});

test('beyond the newest N files, together with an age limit, and moved instead of deleted', async (t) => {
  const { home, sweep, names } = await setup(t);
  const newest = await sweep({ keepFiles: 2, dryRun: true });
  assert.match(newest.output ?? '', /^dry run: would remove 3 files \(175 bytes\), kept 2\n/);
  // Both limits: only files past both go (the newest 4 include b.log, 8 days old: it stays).
  const both = await sweep({ keepFiles: 4, olderThanDays: 7, dryRun: true });
  assert.equal(both.output, 'dry run: would remove 1 files (100 bytes), kept 4\n/logs/a.log');
  const moved = await sweep({ olderThanDays: 7, moveTo: '/logs/old' });
  assert.equal(moved.ok, true, moved.error);
  assert.deepEqual(await names(), [
    '2026',
    'd.log',
    'e.log',
    'old',
    'old/2026',
    'old/2026/c.log',
    'old/a.log',
    'old/b.log',
  ]);
  // The move target under the swept path is not swept again.
  const again = await sweep({ olderThanDays: 7, moveTo: '/logs/old' });
  assert.equal(again.output, 'removed 0 files (0 bytes), kept 2');
  assert.ok(existsSync(join(home, 'logs', 'old', 'a.log')));
});

test('a user without delete permission gets a failed report and keeps every file', async (t) => {
  const { sweep, names } = await setup(t, { '/': ['list', 'download', 'upload'] });
  const before = await names();
  const outcome = await sweep({ olderThanDays: 7 });
  assert.equal(outcome.ok, false);
  assert.equal(outcome.error, '3 files could not be handled');
  assert.match(
    outcome.output ?? '',
    /^removed 0 files \(0 bytes\), kept 2\nfailed: \/logs\/a\.log: Permission denied: delete_files in \/logs\n/,
  );
  assert.deepEqual(await names(), before);
  const none = await sweep({});
  assert.deepEqual([none.ok, none.permanent], [false, true]);
});
