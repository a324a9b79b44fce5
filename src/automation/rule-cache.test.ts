import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loggers } from '../logger.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { RuleDefinition, RuleRepository } from '../store/types.js';
import { RuleCache } from './rule-cache.js';

const rule = (name: string, extra: Partial<RuleDefinition> = {}): RuleDefinition => ({
  name,
  enabled: true,
  events: ['upload', 'download'],
  conditions: {},
  actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
  ...extra,
});

async function twoStores(t: import('node:test').TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-rule-cache-'));
  const file = join(dir, 'ferry.db');
  const server = await openSqliteStore(file);
  const cli = await openSqliteStore(file);
  t.after(async () => {
    await server.close();
    await cli.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { server, cli };
}

test('a rule another process adds is seen after the next version check; disabled and invalid ones are not', async (t) => {
  const { server, cli } = await twoStores(t);
  const cache = new RuleCache({ rules: server.rules, log: loggers.automation, checkEveryMs: 50 });
  await cache.start();
  t.after(() => cache.stop());
  assert.deepEqual(cache.forEvent('upload'), []);
  const changes: number[] = [];
  cache.onChange((rules) => changes.push(rules.length));

  await cli.rules.create(rule('notify'));
  await cli.rules.create(rule('off', { enabled: false }));
  await cli.rules.create(rule('broken', { conditions: { sources: ['not-an-address'] } }));
  await cli.rules.create(rule('logins', { events: ['login-failed'] }));
  for (let i = 0; i < 100 && cache.forEvent('upload').length === 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(
    cache.forEvent('upload').map((r) => r.name),
    ['notify'],
  );
  assert.deepEqual(
    cache.forEvent('login-failed').map((r) => r.name),
    ['logins'],
  );
  assert.equal(cache.all().length, 4, 'byId knows disabled rules too');
  assert.equal(cache.byId((await cli.rules.get('off'))!.id)?.enabled, false);
  assert.ok(changes.length >= 1);

  await cli.rules.remove('notify');
  await cache.refresh(true);
  assert.deepEqual(cache.forEvent('upload'), []);
});

test('the version is read at most once per interval unless a refresh is forced', async (t) => {
  const { server } = await twoStores(t);
  let reads = 0;
  // Counts calls on the real repository (a decorator, not a stand-in).
  const real = server.rules;
  const counted: RuleRepository = {
    create: (r, s) => real.create(r, s),
    get: (n) => real.get(n),
    getById: (id) => real.getById(id),
    list: () => real.list(),
    update: (n, r, s) => real.update(n, r, s),
    remove: (n) => real.remove(n),
    sealedSecret: (id) => real.sealedSecret(id),
    version: () => {
      reads++;
      return real.version();
    },
  };
  const cache = new RuleCache({ rules: counted, log: loggers.automation, checkEveryMs: 60_000 });
  await cache.refresh(true);
  await Promise.all([cache.refresh(), cache.refresh(), cache.refresh()]);
  assert.equal(reads, 1);
  await cache.refresh(true);
  assert.equal(reads, 2);
});
