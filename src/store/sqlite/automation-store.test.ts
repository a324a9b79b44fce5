import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runAutomationStoreContract } from '../automation-contract-fixture.js';
import { openSqliteStore } from './sqlite-store.js';

runAutomationStoreContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-rules-store-'));
  const file = join(dir, 'ferry.db');
  return {
    store: await openSqliteStore(file),
    reopen: () => openSqliteStore(file),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('two processes claiming from one SQLite file at the same time never take the same delivery', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-claims-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ferry.db');
  const store = await openSqliteStore(file);
  const rule = await store.rules.create({
    name: 'hook',
    enabled: true,
    events: ['upload'],
    conditions: {},
    actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
  });
  const ids = Array.from({ length: 400 }, (_, i) => `p-${i}`);
  await store.deliveries.enqueue(
    ids.map((id) => ({ id, ruleId: rule.id, actionIndex: 0, eventName: 'upload' as const, fields: {} })),
    new Date(Date.now() - 1000),
  );
  await store.close();
  const child = new URL('./claim-child-fixture.ts', import.meta.url).pathname;
  const procs = ['one', 'two'].map((owner) => {
    const proc = fork(child, [file, owner], { execArgv: ['--import', 'tsx'] });
    t.after(() => proc.kill('SIGKILL'));
    return proc;
  });
  const ready = procs.map((proc) => new Promise((resolve) => proc.once('message', resolve)));
  const runs = procs.map(
    (proc, i) =>
      new Promise<string[]>((resolve, reject) => {
        let taken: string[] | undefined;
        proc.on('message', (m) => {
          if (Array.isArray(m)) taken = m as string[];
        });
        proc.on('error', reject);
        proc.on('exit', (code) =>
          code === 0 && taken ? resolve(taken) : reject(new Error(`child ${i} exited with ${code}`)),
        );
      }),
  );
  await Promise.all(ready);
  for (const proc of procs) proc.send('go');
  const [one, two] = await Promise.all(runs);
  assert.ok(one && two);
  assert.equal(one.length + two.length, ids.length, 'each delivery was taken once');
  assert.deepEqual([...new Set([...one, ...two])].sort(), [...ids].sort());
  assert.ok(one.length > 0 && two.length > 0, `both processes took some (${one.length}, ${two.length})`);
});
