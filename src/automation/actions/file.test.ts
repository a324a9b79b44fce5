import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FileOperationEvent } from '../../events/types.js';
import { rootLogger } from '../../logger.js';
import { ruleEventOf } from '../event-names.js';
import { firedByRule } from '../rule-session.js';
import type { FileAction } from '../types.js';
import { contextOf, deliveryOf, makeUserHomes, ruleOf, type UserHomes } from './action-fixture.js';
import { createFileRunners } from './file.js';

const log = rootLogger.child({ logger: 'test' });

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const homes = await makeUserHomes();
  t.after(() => homes.cleanup());
  const runners = createFileRunners({ ...homes, users: homes.store.users, log });
  return { homes, runners };
}

function uploaded(path: string, user = 'alice') {
  const cut = path.lastIndexOf('/');
  return {
    event: 'upload',
    user,
    path,
    name: path.slice(cut + 1),
    dir: path.slice(0, cut) || '/',
    sessionId: 'ssh-1',
  };
}

const renames = (homes: UserHomes) =>
  homes.events.filter((e): e is FileOperationEvent => e.type === 'file-op' && e.operation === 'rename');

test('a move runs through the core as the user, makes the folder, and its own event never fires the rule again', async (t) => {
  const { homes, runners } = await setup(t);
  const home = await homes.addUser('alice');
  await mkdir(join(home, 'in'));
  await writeFile(join(home, 'in', 'a.csv'), 'a,b\n');
  const action: FileAction = { kind: 'move', target: '/archive/{{user}}/{{name}}' };
  const rule = ruleOf('archive', [action], { events: ['upload', 'rename'] });
  const delivery = deliveryOf(rule, uploaded('/in/a.csv'));
  const outcome = await runners.move.run(action, delivery, contextOf(rule));
  assert.deepEqual(outcome, { ok: true, output: 'moved /in/a.csv to /archive/alice/a.csv' });
  assert.equal(await readFile(join(home, 'archive', 'alice', 'a.csv'), 'utf8'), 'a,b\n');
  assert.equal(existsSync(join(home, 'in', 'a.csv')), false);
  // Delivered again (at least once: the worker died before recording the outcome): found done, not an error.
  assert.deepEqual(await runners.move.run(action, delivery, contextOf(rule)), {
    ok: true,
    output: '/in/a.csv was already moved to /archive/alice/a.csv',
  });
  // The core audited it as alice, in a session marked as the rule's.
  const [event] = renames(homes);
  assert.equal(event?.username, 'alice');
  assert.equal(event?.protocol, 'rule');
  assert.equal(event?.sessionId, `rule:archive:${delivery.id}`);
  const fired = ruleEventOf(event!);
  assert.equal(fired?.name, 'rename');
  assert.equal(
    firedByRule('archive', fired?.fields.sessionId),
    true,
    'the rule does not fire on its own move',
  );
  assert.equal(firedByRule('notify', fired?.fields.sessionId), false, 'other rules still see it');
  // Another rule acting on that event continues the chain, so a cycle back to `archive` stops too.
  const next: FileAction = { kind: 'rename', target: '{{name}}.seen' };
  const notify = ruleOf('notify', [next]);
  const chained = deliveryOf(notify, fired!.fields, 0, 'rename');
  assert.equal((await runners.rename.run(next, chained, contextOf(notify))).ok, true);
  assert.equal(renames(homes)[1]?.sessionId, `rule:archive>notify:${chained.id}`);
  assert.equal(firedByRule('archive', renames(homes)[1]?.sessionId), true);
  assert.ok(existsSync(join(home, 'archive', 'alice', 'a.csv.seen')));
  // A file that is gone for good is a permanent failure, not eight retries.
  const missing = await runners.move.run(action, deliveryOf(rule, uploaded('/in/none.csv')), contextOf(rule));
  assert.deepEqual([missing.ok, missing.permanent], [false, true]);
  assert.match(missing.error ?? '', /^move \/in\/none\.csv: .*\(ERR_NOT_FOUND\)$/);
});

test('targets that climb (../../, absolute paths, hostile names) stay inside the home', async (t) => {
  const { homes, runners } = await setup(t);
  const home = await homes.addUser('alice');
  const outside = join(homes.base, 'outside');
  await mkdir(outside);
  const rule = ruleOf('r', []);
  const cases: [string, Record<string, string>, string][] = [
    ['../../outside/x', {}, join(home, 'outside', 'x')],
    [`${outside}/y`, {}, join(home, outside, 'y')],
    ['/drop/{{name}}', { name: '../../../outside/z' }, join(home, 'drop', '.._.._.._outside_z')],
  ];
  for (const [i, [target, extra, expected]] of cases.entries()) {
    await writeFile(join(home, `f${i}`), `content ${i}`);
    const action: FileAction = { kind: 'move', target };
    const outcome = await runners.move.run(
      action,
      deliveryOf(rule, { ...uploaded(`/f${i}`), ...extra }),
      contextOf(rule),
    );
    assert.equal(outcome.ok, true, outcome.error);
    assert.equal(await readFile(expected, 'utf8'), `content ${i}`);
  }
  assert.deepEqual(await readdir(outside), [], 'nothing reached the folder beside the home');
});

test('a user without write permission on the target folder gets a failed outcome and nothing changes', async (t) => {
  const { homes, runners } = await setup(t);
  const home = await homes.addUser('alice', { '/': ['*'], '/locked': ['list', 'download'] });
  await mkdir(join(home, 'locked'));
  await writeFile(join(home, 'a.csv'), 'data');
  const rule = ruleOf('r', []);
  for (const action of [
    { kind: 'move', target: '/locked/{{name}}' },
    { kind: 'copy', target: '/locked/{{name}}' },
  ] as FileAction[]) {
    const outcome = await runners[action.kind].run(
      action,
      deliveryOf(rule, uploaded('/a.csv')),
      contextOf(rule),
    );
    assert.equal(outcome.ok, false);
    assert.equal(outcome.permanent, true);
    assert.match(outcome.error ?? '', /ERR_PERMISSION_DENIED/);
  }
  assert.deepEqual(await readdir(join(home, 'locked')), [], 'no file, no partial');
  assert.equal(await readFile(join(home, 'a.csv'), 'utf8'), 'data');
  // Acting as another user (action.user) uses that user's permissions and home.
  const bob = await homes.addUser('bob', { '/': ['list', 'download'] });
  await writeFile(join(bob, 'b.csv'), 'b');
  const asBob: FileAction = { kind: 'delete', user: 'bob' };
  const refused = await runners.delete.run(asBob, deliveryOf(rule, uploaded('/b.csv')), contextOf(rule));
  assert.match(refused.error ?? '', /ERR_PERMISSION_DENIED/);
  assert.ok(existsSync(join(bob, 'b.csv')));
  const nobody = await runners.delete.run(
    { kind: 'delete' },
    deliveryOf(rule, uploaded('/b.csv', 'ghost')),
    contextOf(rule),
  );
  assert.deepEqual([nobody.ok, nobody.permanent], [false, true]);
  assert.match(nobody.error ?? '', /no user named ghost/);
});

test('copy, rename, delete and a sha256 side file that sha256sum -c accepts', async (t) => {
  const { homes, runners } = await setup(t);
  const home = await homes.addUser('alice');
  const content = Buffer.alloc(300_000, 7);
  await writeFile(join(home, 'data.bin'), content);
  const rule = ruleOf('r', []);
  const at = deliveryOf(rule, uploaded('/data.bin'));
  assert.equal((await runners.copy.run({ kind: 'copy', target: 'backup/' }, at, contextOf(rule))).ok, true);
  assert.deepEqual(await readFile(join(home, 'backup', 'data.bin')), content);
  const sha = await runners.sha256.run({ kind: 'sha256' }, at, contextOf(rule));
  assert.equal(sha.ok, true, sha.error);
  assert.match(await readFile(join(home, 'data.bin.sha256'), 'utf8'), /^[0-9a-f]{64} {2}data\.bin\n$/);
  assert.match(
    execFileSync('sha256sum', ['-c', 'data.bin.sha256'], { cwd: home, encoding: 'utf8' }),
    /data\.bin: OK/,
  );
  const badName: FileAction = { kind: 'rename', target: 'sub/{{name}}' };
  assert.match(
    (await runners.rename.run(badName, at, contextOf(rule))).error ?? '',
    /rename takes a new name/,
  );
  assert.equal(
    (await runners.rename.run({ kind: 'rename', target: '{{name}}.done' }, at, contextOf(rule))).ok,
    true,
  );
  assert.ok(existsSync(join(home, 'data.bin.done')));
  const gone = deliveryOf(rule, uploaded('/backup/data.bin'));
  assert.deepEqual(await runners.delete.run({ kind: 'delete' }, gone, contextOf(rule)), {
    ok: true,
    output: 'deleted /backup/data.bin',
  });
  assert.equal(existsSync(join(home, 'backup', 'data.bin')), false);
  assert.deepEqual(await runners.delete.run({ kind: 'delete' }, gone, contextOf(rule)), {
    ok: true,
    output: '/backup/data.bin was already gone',
  });
});
