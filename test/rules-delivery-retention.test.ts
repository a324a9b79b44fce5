// The delivery history's retention as an operator meets it: a server keeps finished deliveries for
// rules.deliveryRetentionDays (30 by default), then they are gone from `ferry rules deliveries`; unfinished ones
// stay whatever their age, and 0 keeps everything.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runFerry } from './helpers/cli.js';
import { serveFerry } from './helpers/ferry-serve.js';
import { SECRET } from './helpers/rules-cli.js';

const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

const DAY_MS = 24 * 60 * 60 * 1000;

test('finished deliveries older than the retention are pruned when the server runs; unfinished ones and 0 days keep theirs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-delivery-retention-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const ferry = (args: string[], input = '') => runFerry([...args, '--data-dir', dataDir], input);
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const added = await ferry(
    [
      'rules',
      'add',
      'hook',
      '--on',
      'upload',
      '--action',
      'webhook',
      '--url',
      'https://hooks.example.com/y',
      '--secret-stdin',
    ],
    SECRET,
  );
  assert.equal(added.code, 0, added.stderr);

  // Four deliveries: two finished (one 40 days ago, one 20), one dead 40 days ago, one still pending from then.
  const store = await openSqliteStore(join(dataDir, 'ferry.db'));
  try {
    const rule = await store.rules.get('hook');
    assert.ok(rule);
    const ids = ['d-old', 'd-recent', 'd-dead', 'd-waiting'];
    const now = new Date();
    await store.deliveries.enqueue(
      ids.map((id) => ({ id, ruleId: rule.id, actionIndex: 0, eventName: 'upload' as const, fields: {} })),
      now,
    );
    const lease = new Date(now.getTime() + 60_000);
    assert.equal((await store.deliveries.claim('test', 4, now, lease)).length, 4);
    const attempt = (id: string, ok: boolean) => ({ deliveryId: id, attempt: 1, at: now, ok, latencyMs: 5 });
    await store.deliveries.finishMany('test', [
      { id: 'd-old', attempt: attempt('d-old', true), next: { status: 'succeeded' } },
      { id: 'd-recent', attempt: attempt('d-recent', true), next: { status: 'succeeded' } },
      { id: 'd-dead', attempt: attempt('d-dead', false), next: { status: 'dead' } },
      {
        id: 'd-waiting',
        attempt: attempt('d-waiting', false),
        next: { status: 'pending', nextAttemptAt: new Date(now.getTime() + 365 * DAY_MS) },
      },
    ]);
  } finally {
    await store.close();
  }
  // Their age, as if they had fallen due and finished then.
  const db = new SqliteDatabase(join(dataDir, 'ferry.db'));
  const ago = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString();
  const age = db.prepare(
    'UPDATE deliveries SET finished_at = @at, created_at = @at, next_attempt_at = @at WHERE id = @id',
  );
  age.run({ at: ago(40), id: 'd-old' });
  age.run({ at: ago(20), id: 'd-recent' });
  age.run({ at: ago(40), id: 'd-dead' });
  db.prepare('UPDATE deliveries SET created_at = ? WHERE id = ?').run(ago(40), 'd-waiting');
  db.close();

  const listed = async () => {
    const r = await ferry(['rules', 'deliveries', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { id: string }[]).map((d) => d.id).sort();
  };
  const serveUntilListening = (env: Record<string, string>) =>
    serveFerry(dataDir, children, ['--http-listen', '127.0.0.1:0', '--workers', '1'], /SFTP listening/, {
      env,
    });

  // 0 days: kept for ever.
  const keeping = await serveUntilListening({ FERRY_RULES_DELIVERY_RETENTION_DAYS: '0' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await keeping.serving.stop();
  assert.doesNotMatch(keeping.serving.stderr(), /rule deliveries pruned/);
  assert.deepEqual(await listed(), ['d-dead', 'd-old', 'd-recent', 'd-waiting']);

  // The default (30 days): the sweep at start takes the two finished 40 days ago, with their attempts.
  const pruning = await serveUntilListening({});
  const deadline = Date.now() + 15_000;
  while (!/rule deliveries pruned/.test(pruning.serving.stderr()) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  await pruning.serving.stop();
  assert.match(
    pruning.serving.stderr(),
    /rule deliveries pruned.*"deleted":2|"deleted":2.*rule deliveries pruned/,
  );
  assert.deepEqual(await listed(), ['d-recent', 'd-waiting']);
  const gone = await ferry(['rules', 'deliveries', 'd-old']);
  assert.notEqual(gone.code, 0, 'the pruned delivery is not found');
});
