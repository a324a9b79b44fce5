// The counting-rule counters on SQLite: the shared contract, and two processes counting one user at once.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runRuleCounterContract } from '../rule-counter-contract-fixture.js';
import { openSqliteStore } from './sqlite-store.js';

runRuleCounterContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-counters-'));
  return {
    store: await openSqliteStore(join(dir, 'ferry.db')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('two processes counting one user at once fire exactly once per five hits', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-counters-2p-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ferry.db');
  const store = await openSqliteStore(file);
  const rule = await store.rules.create({
    name: 'brute',
    enabled: true,
    events: ['login-failed'],
    conditions: { count: { atLeast: 5, within: '10m', per: 'user' } },
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
  });
  await store.close();
  const child = new URL('./counter-child-fixture.ts', import.meta.url).pathname;
  const procs = ['one', 'two'].map((name) => {
    const proc = fork(child, [file, name, String(rule.id), '30'], { execArgv: ['--import', 'tsx'] });
    t.after(() => proc.kill('SIGKILL'));
    return proc;
  });
  const ready = procs.map((proc) => new Promise((resolve) => proc.once('message', resolve)));
  const runs = procs.map(
    (proc, i) =>
      new Promise<number>((resolve, reject) => {
        let fired: number | undefined;
        proc.on('message', (m) => {
          if (typeof m === 'number') fired = m;
        });
        proc.on('error', reject);
        proc.on('exit', (code) =>
          code === 0 && fired !== undefined
            ? resolve(fired)
            : reject(new Error(`child ${i} exited with ${code}`)),
        );
      }),
  );
  await Promise.all(ready);
  for (const proc of procs) proc.send('go');
  const [one = 0, two = 0] = await Promise.all(runs);
  assert.equal(one + two, 12, `60 hits fire 12 times (${one} + ${two})`);
  const after = await openSqliteStore(file, { readonly: true });
  try {
    const stored = await after.deliveries.list({ limit: 100 });
    assert.equal(stored.length, 12);
    assert.ok(stored.every((d) => d.fields.count === '5'));
    assert.equal(await after.ruleCounters.keys(rule.id), 0, 'the sixtieth hit fired and cleared the key');
  } finally {
    await after.close();
  }
});
