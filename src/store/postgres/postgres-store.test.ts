// The PostgreSQL store: every store contract suite, and what two nodes writing at once must never break.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { assertLinearChain } from '../audit-chain-fixture.js';
import { runAutomationStoreContract } from '../automation-contract-fixture.js';
import { runStoreContract } from '../contract.js';
import { runDefenderListContract } from '../defender-list-contract-fixture.js';
import { runFolderStoreContract } from '../folder-contract-fixture.js';
import { runGroupStoreContract } from '../group-contract-fixture.js';
import { runLiveSessionContract } from '../live-session-contract-fixture.js';
import { runRuleCounterContract } from '../rule-counter-contract-fixture.js';
import { runS3UploadContract } from '../s3-upload-contract-fixture.js';
import { runTransferUsageContract } from '../transfer-usage-contract-fixture.js';
import { runWebSessionContract } from '../web-session-contract-fixture.js';
import { runChildrenTogether } from './child-fixture.js';
import { openPostgresStore } from './postgres-store.js';
import { createTestDatabase, postgresUnavailable, testDatabaseFactory } from './test-database.js';

const unavailable = await postgresUnavailable();
if (unavailable) {
  test('PostgreSQL store', { skip: unavailable }, () => {});
} else {
  // Migrated once into a template; each test gets its own copy.
  const databases = await testDatabaseFactory(async (url) => (await openPostgresStore(url)).close());
  after(() => databases.close());
  const fresh = async () => {
    const db = await databases.create();
    return { url: db.url, store: await openPostgresStore(db.url), cleanup: () => db.drop() };
  };

  runStoreContract('postgres', fresh);
  runGroupStoreContract('postgres', fresh);
  runFolderStoreContract('postgres', fresh);
  runRuleCounterContract('postgres', fresh);
  runLiveSessionContract('postgres', fresh);
  runDefenderListContract('postgres', fresh);
  runS3UploadContract('postgres', fresh);
  runWebSessionContract('postgres', fresh);
  runTransferUsageContract('postgres', fresh);
  runAutomationStoreContract('postgres', async () => {
    const { url, store, cleanup } = await fresh();
    return { store, reopen: () => openPostgresStore(url), cleanup };
  });
  registerConcurrencyTests(databases.create);
}

function registerConcurrencyTests(create: typeof createTestDatabase): void {
  const fixture = (name: string) => new URL(name, import.meta.url).pathname;

  test('two nodes starting together on an empty database migrate it once', async (t) => {
    const db = await createTestDatabase();
    t.after(() => db.drop());
    const stores = await Promise.all([openPostgresStore(db.url), openPostgresStore(db.url)]);
    await Promise.all(stores.map((s) => s.close()));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT name, count(*)::int AS n FROM kysely_migration GROUP BY name',
      );
      assert.ok(rows.length >= 11, `every migration recorded (${rows.length})`);
      assert.ok(
        rows.every((r) => r.n === 1),
        'each migration ran once',
      );
    } finally {
      await client.end();
    }
  });

  test('a notification from one node reaches every listening node, and nothing after unlisten', async (t) => {
    const db = await create();
    const [one, two] = await Promise.all([openPostgresStore(db.url), openPostgresStore(db.url)]);
    t.after(async () => {
      await Promise.all([one.close(), two.close()]);
      await db.drop();
    });
    assert.ok(one.notifications && two.notifications, 'a PostgreSQL store has notifications');
    const heard: string[] = [];
    let wake: () => void = () => {};
    const unlisten = await two.notifications.listen('ferry_test_channel', (payload) => {
      heard.push(payload);
      wake();
    });
    const next = () => new Promise<void>((resolve) => (wake = resolve));
    let arrived = next();
    await one.notifications.notify('ferry_test_channel', 'node-b');
    await arrived;
    arrived = next();
    await two.notifications.notify('ferry_test_channel', "it's 'quoted'");
    await arrived;
    assert.deepEqual(heard, ['node-b', "it's 'quoted'"]);
    await unlisten();
    await one.notifications.notify('ferry_test_channel', 'late');
    // A round trip on the listening store's own pool: had the notification been delivered, it would be by now.
    await two.notifications.notify('ferry_other_channel', 'x');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(heard, ['node-b', "it's 'quoted'"]);
    await assert.rejects(
      one.notifications.listen('bad; DROP TABLE users', () => {}),
      /bad notification channel/,
    );
  });

  test('every migration uses the dialect table: no 4-byte integers, every text column byte-wise', async (t) => {
    // A migration written with the literal types 'integer' or 'text' would run, then overflow at 2^31 or sort by
    // the database's locale: write t.int and t.text (migrations.ts).
    const db = await create();
    t.after(() => db.drop());
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ col: string; data_type: string; collation_name: string | null }>(
        `SELECT table_name || '.' || column_name AS col, data_type, collation_name
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'`,
      );
      assert.ok(rows.length > 100, `columns read (${rows.length})`);
      assert.deepEqual(
        rows.filter((r) => r.data_type === 'integer' || r.data_type === 'real').map((r) => r.col),
        [],
      );
      assert.deepEqual(
        rows.filter((r) => r.data_type === 'text' && r.collation_name !== 'C').map((r) => r.col),
        [],
      );
    } finally {
      await client.end();
    }
  });

  test('listings sort byte-wise as on SQLite, even in a database whose locale sorts otherwise', async (t) => {
    // ICU's en-US puts '_c' first and 'B' after 'b'; SQLite (and a C collation) sorts by byte.
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    try {
      db = await createTestDatabase(
        undefined,
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",
      );
    } catch (err) {
      t.skip(`this PostgreSQL cannot create an ICU en-US database: ${(err as Error).message}`);
      return;
    }
    t.after(() => db.drop());
    const store = await openPostgresStore(db.url);
    try {
      for (const name of ['b', 'B', 'a', '_c']) await store.users.create({ name });
      assert.deepEqual(
        (await store.users.list()).map((u) => u.name),
        ['B', '_c', 'a', 'b'],
      );
    } finally {
      await store.close();
    }
  });

  test('a read-only open writes nothing: it refuses pending migrations and every write', async (t) => {
    const empty = await createTestDatabase();
    t.after(() => empty.drop());
    await assert.rejects(openPostgresStore(empty.url, { readonly: true }), (err: Error) => {
      assert.match(err.message, /has migrations pending \(0001_users, .*run ferry migrate/);
      return true;
    });
    const db = await create();
    t.after(() => db.drop());
    const reader = await openPostgresStore(db.url, { readonly: true });
    try {
      assert.deepEqual(await reader.users.list(), []);
      await assert.rejects(reader.users.create({ name: 'x' }), /read-only transaction/);
    } finally {
      await reader.close();
    }
  });

  test('two processes appending audit records at once make one linear chain', async (t) => {
    const db = await create();
    t.after(() => db.drop());
    // 60 appends of 1, 2 or 3 records each at least, on until the other's came between two (see the fixture).
    const reports = (await runChildrenTogether(t, fixture('../audit-child-fixture.ts'), [
      [db.url, 'one', '60'],
      [db.url, 'two', '60'],
    ])) as { written: number }[];
    const store = await openPostgresStore(db.url);
    try {
      const records = await store.audit.page({ limit: 100_000 });
      assert.equal(records.length, reports[0]!.written + reports[1]!.written);
      const users = records.map((r) => r.user);
      const switches = users.filter((u, i) => i > 0 && u !== users[i - 1]).length;
      assert.ok(switches >= 2, `the processes' appends interleaved (${switches} switches)`);
      assertLinearChain(records);
      assert.deepEqual(new Set(records.map((r) => r.user)), new Set(['one', 'two']));
    } finally {
      await store.close();
    }
  });

  test('two processes claiming deliveries at once never take the same one', async (t) => {
    const db = await create();
    t.after(() => db.drop());
    const store = await openPostgresStore(db.url);
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
    const [one, two] = (await runChildrenTogether(t, fixture('../sqlite/claim-child-fixture.ts'), [
      [db.url, 'one'],
      [db.url, 'two'],
    ])) as [string[], string[]];
    assert.equal(one.length + two.length, ids.length, 'each delivery was taken once');
    assert.deepEqual([...new Set([...one, ...two])].sort(), [...ids].sort());
    assert.ok(one.length > 0 && two.length > 0, `both processes took some (${one.length}, ${two.length})`);
  });

  test('two processes counting one user at once fire exactly once per five hits', async (t) => {
    const db = await create();
    t.after(() => db.drop());
    const store = await openPostgresStore(db.url);
    const rule = await store.rules.create({
      name: 'brute',
      enabled: true,
      events: ['login-failed'],
      conditions: { count: { atLeast: 5, within: '10m', per: 'user' } },
      actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/' }],
    });
    const [one, two] = (await runChildrenTogether(t, fixture('../sqlite/counter-child-fixture.ts'), [
      [db.url, 'one', String(rule.id), '30'],
      [db.url, 'two', String(rule.id), '30'],
    ])) as [number, number];
    try {
      assert.equal(one + two, 12, `60 hits fire 12 times (${one} + ${two})`);
      const stored = await store.deliveries.list({ limit: 100 });
      assert.equal(stored.length, 12);
      assert.ok(stored.every((d) => d.fields.count === '5'));
      assert.equal(await store.ruleCounters.keys(rule.id), 0);
    } finally {
      await store.close();
    }
  });

  test('two nodes scoring, banning and locking at once: no lost update, one winner', async (t) => {
    const db = await create();
    t.after(() => db.drop());
    const [a, b] = await Promise.all([openPostgresStore(db.url), openPostgresStore(db.url)]);
    t.after(() => Promise.all([a.close(), b.close()]));
    const now = new Date();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).defender.score('192.0.2.7', 1, 'login failed', now, 600),
      ),
    );
    assert.equal((await a.defender.get('192.0.2.7'))?.score, 40, 'every point counted');
    const bans = await Promise.all(
      [a, b].map((s) => s.defender.ban('192.0.2.7', new Date(now.getTime() + 60_000), 0)),
    );
    assert.deepEqual(bans.sort(), [false, true], 'one node bans, the other sees it banned');
    assert.ok((await b.defender.get('192.0.2.7'))?.bannedUntil, 'the ban is visible to the other node');
    await a.partners.create({
      name: 'bank',
      host: 'sftp.example.com',
      port: 22,
      username: 'ferry',
      passwordSealed: null,
      clientKey: null,
      hostKeyAlgorithm: null,
      hostKeySha256: null,
      renameUploads: true,
      readBack: false,
      algorithms: 'modern',
    });
    await a.transferJobs.create({
      name: 'job',
      partner: 'bank',
      direction: 'pull',
      remoteDir: '/out',
      localDir: '/in',
      pattern: '*',
      schedule: null,
      after: 'keep',
      retries: 0,
      backoffMs: 30_000,
      enabled: true,
    });
    const until = new Date(now.getTime() + 60_000);
    const locks = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).transferJobs.acquireLock('job', `n${i}`, until, now),
      ),
    );
    assert.equal(locks.filter(Boolean).length, 1, 'exactly one node holds the job lock');
  });
}
