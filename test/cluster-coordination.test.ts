// Cluster mode's coordination proofs: two `ferry serve` nodes on one PostgreSQL store run each scheduled job slot
// once, deliver each outbox row once, and share the defender's scores, so failed logins on both ban on both.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { runFerry } from './helpers/cli.js';
import { type ClusterNode, startClusterNode } from './helpers/cluster-node.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer } from './helpers/server.js';
import { startWebhookReceiver } from './helpers/webhook-receiver.js';

const unavailable = await postgresUnavailable();
const PASSWORD = 'C00rdinate-pa55';
const TICKS = 30;

/** A fresh PostgreSQL store and shared data dir, initialised, with the test's cleanup registered. */
async function clusterStore(t: { after(fn: () => unknown): void }, prefix: string) {
  const work = await mkdtemp(join(tmpdir(), `ferry-${prefix}-`));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const dataDir = join(work, 'shared');
  const store = ['--data-dir', dataDir, '--store', db.url];
  const init = await runFerry(['init', ...store]);
  assert.equal(init.code, 0, init.stderr);
  return { work, dataDir, db, store };
}

async function ok(args: string[], input?: string): Promise<string> {
  const r = await runFerry(args, input);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < end, `timed out waiting until ${what}`);
    await delay(100);
  }
}

/**
 * A cron with exactly 30 slots two seconds apart: the even seconds of one minute (that minute, hour, day and month,
 * local time as croner reads it in every process), the first minute that starts at least `leadMs` from now. The
 * schedule itself bounds the count, so the test needs no clock of its own to say which runs belonged to it. Two
 * seconds, not one: a run (an SSH login to the partner) that outlasts the gap to the next slot makes that slot
 * skip, by design (never two runs of a job at once), and a loaded test machine can take a second for one.
 */
function boundedCron(leadMs: number): { cron: string; first: Date; last: Date } {
  const first = new Date(Date.now() + leadMs);
  if (first.getSeconds() !== 0 || first.getMilliseconds() !== 0) first.setSeconds(60, 0);
  const cron = `*/2 ${first.getMinutes()} ${first.getHours()} ${first.getDate()} ${first.getMonth() + 1} *`;
  return { cron, first, last: new Date(first.getTime() + 58_000) };
}

test('a job scheduled every 2 seconds for 30 ticks runs each slot once or says it skipped it, across two nodes (three schedulers)', {
  skip: unavailable,
}, async (t) => {
  const { dataDir, db, store } = await clusterStore(t, 'cluster-schedule');
  // The partner: a real Ferry SFTP server in this process (its own SQLite store), with a password login.
  const partner = await startTestServer();
  t.after(() => partner.close());
  await partner.addUser('acme', { password: PASSWORD });
  await ok(
    [
      'partners',
      'add',
      'acme',
      '--host',
      '127.0.0.1',
      '--port',
      String(partner.port),
      '--user',
      'acme',
    ].concat('--password-stdin', store),
    `${PASSWORD}\n`,
  );
  await ok(['partners', 'trust', 'acme', '--yes', ...store]);
  // A push of one small file: the first run sends it, every later run finds it sent (the ledger) and ends.
  const outgoing = join(dataDir, 'outgoing');
  await mkdir(outgoing, { recursive: true });
  await writeFile(join(outgoing, 'report.csv'), 'a,b\n1,2\n');
  // The first slot leaves time for both nodes to start (a serving process reads its jobs at start).
  const window = boundedCron(15_000);
  await ok([
    ...['jobs', 'add', 'tick', '--partner', 'acme', '--direction', 'push'],
    ...['--remote-dir', '/', '--local-dir', outgoing, '--schedule', window.cron, ...store],
  ]);

  // At info, the process that claims a slot says when the slot is lost to a run still going elsewhere.
  const env = { FERRY_NODE_HEARTBEAT_SECONDS: '0.5', FERRY_LOG_LEVEL: 'info' };
  const nodes = await Promise.all([
    startClusterNode('127.0.0.51', [...store, '--workers', '2', '--node-id', 'node-a'], t, env),
    startClusterNode('127.0.0.52', [...store, '--workers', '1', '--node-id', 'node-b'], t, env),
  ]);
  assert.ok(Date.now() < window.first.getTime(), 'both nodes run before the first slot');
  // After the last slot, give a late timer and its run time to show up as an extra run.
  await delay(Math.max(0, window.last.getTime() - Date.now()) + 4000);
  await until('the last run finished', async () => {
    const running = await query(db.url, "SELECT id FROM transfer_runs WHERE status = 'running'");
    return running.length === 0;
  });
  const runs = await query<{ trigger: string; status: string; error: string | null; duration_ms: number }>(
    db.url,
    'SELECT trigger, status, error, duration_ms FROM transfer_runs ORDER BY id',
  );
  // Every slot is either run once or skipped once, by design, because an earlier run outlasted the two seconds
  // (a loaded CI machine can take that long for an SSH login); never run twice, never lost unsaid.
  const logs = nodes.map((n) => n.output()).join('');
  const skipped = logs.split('slot skipped: a run of this job is still going').length - 1;
  const said = `runs: ${JSON.stringify(runs)}, skipped: ${skipped}, logs:\n${logs}`;
  assert.equal(runs.length + skipped, TICKS, said);
  assert.ok(skipped <= TICKS / 3, `most slots ran: ${said}`);
  assert.ok(
    runs.every((r) => r.trigger === 'schedule' && r.status === 'ok'),
    JSON.stringify(runs),
  );
  const history = JSON.parse(await ok(['jobs', 'history', 'tick', '--limit', '100', '--json', ...store]));
  assert.equal(history.length, runs.length, 'the CLI sees the same runs');
  assert.equal(history.filter((r: { files: unknown[] }) => r.files.length === 1).length, 1, 'one file sent');
});

test('100 outbox deliveries with two nodes: each webhook delivered exactly once', {
  skip: unavailable,
}, async (t) => {
  const { work, store } = await clusterStore(t, 'cluster-outbox');
  const secret = 'cluster-outbox-secret-0123456789';
  // Every first attempt is refused: its retry is a row any node's worker may claim (a delivery is otherwise handed
  // to the worker of the process that stored it). The receiver is slow enough that claims overlap.
  const attempts = new Map<string, number>();
  const receiver = await startWebhookReceiver(secret, (_n, id) => {
    const seen = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, seen);
    return seen === 1 ? 503 : 200;
  });
  t.after(() => receiver.close());
  await ok(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  await ok(
    [
      ...['rules', 'add', 'arrivals', '--on', 'upload', '--status', 'ok', '--max-attempts', '20'],
      ...['--action', 'webhook', '--url', receiver.url, '--secret-stdin', ...store],
    ],
    `${secret}\n`,
  );
  const env = {
    FERRY_NODE_HEARTBEAT_SECONDS: '0.5',
    FERRY_RULES_RETRY_BASE_MS: '100',
    FERRY_RULES_RETRY_CAP_MS: '500',
    FERRY_RULES_LEASE_MS: '5000',
  };
  const nodes = await Promise.all([
    startClusterNode('127.0.0.53', [...store, '--workers', '2', '--node-id', 'node-a'], t, env),
    startClusterNode('127.0.0.54', [...store, '--workers', '1', '--node-id', 'node-b'], t, env),
  ]);
  const files = join(work, 'files');
  await mkdir(files);
  const names = Array.from({ length: 100 }, (_, i) => `f${i}.txt`);
  await Promise.all(names.map((n) => writeFile(join(files, n), `${n}\n`)));
  // Half the uploads through each node, at once.
  const puts = await Promise.all(
    nodes.map((node, i) =>
      sftpBatch({
        port: node.port,
        host: node.address,
        user: 'alice',
        password: PASSWORD,
        cwd: files,
        batch: `${names
          .slice(i * 50, i * 50 + 50)
          .map((n) => `put ${n} /${n}`)
          .join('\n')}\n`,
      }),
    ),
  );
  for (const p of puts) assert.equal(p.code, 0, p.stderr);
  const delivered = () => receiver.received.filter((r) => r.status === 200);
  await until('100 deliveries succeeded', () => delivered().length >= 100);
  // Time for a duplicate to arrive: retries are 100-500 ms apart, leases 5 s.
  await delay(3000);
  const ids = delivered().map((r) => r.id);
  assert.equal(ids.length, 100, 'no delivery succeeded twice');
  assert.equal(new Set(ids).size, 100);
  assert.deepEqual(
    new Set(delivered().map((r) => r.body.data.path)),
    new Set(names.map((n) => `/${n}`)),
    'one per upload',
  );
  assert.ok(
    [...attempts.values()].every((n) => n === 2),
    'each id: one refused attempt, one delivery',
  );
  assert.ok(
    receiver.received.every((r) => r.verified),
    'every request is signed',
  );
  const stored = JSON.parse(await ok(['rules', 'deliveries', '--json', '--limit', '500', ...store]));
  assert.equal(stored.length, 100);
  assert.ok(
    stored.every((d: { status: string }) => d.status === 'succeeded'),
    JSON.stringify(stored),
  );
});

test('20 failed logins spread over two nodes ban the address on both', { skip: unavailable }, async (t) => {
  const { store } = await clusterStore(t, 'cluster-ban');
  await ok(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  const nodes: ClusterNode[] = await Promise.all([
    startClusterNode('127.0.0.55', [...store, '--workers', '1', '--node-id', 'node-a'], t),
    startClusterNode('127.0.0.56', [...store, '--workers', '1', '--node-id', 'node-b'], t),
  ]);
  const login = (node: ClusterNode, from: string, password: string) =>
    sftpBatch({
      port: node.port,
      host: node.address,
      user: 'alice',
      password,
      options: [`BindAddress=${from}`],
      batch: 'pwd\n',
    });
  // The attacker's address: ten wrong passwords on each node, alternating. The threshold (15) is above what
  // either node sees alone, so only scores kept in the shared store reach it.
  const attacker = '127.0.0.57';
  for (let i = 0; i < 20; i++) {
    const r = await login(nodes[i % 2]!, attacker, `wrong-${i}`);
    assert.notEqual(r.code, 0, `attempt ${i} failed`);
  }
  for (const node of nodes) {
    const refused = await login(node, attacker, PASSWORD);
    assert.notEqual(refused.code, 0, `the banned address is refused on ${node.address}`);
    assert.doesNotMatch(refused.stderr, /Permission denied/, 'dropped before any password prompt');
    const other = await login(node, '127.0.0.58', PASSWORD);
    assert.equal(other.code, 0, `another address still logs in on ${node.address}: ${other.stderr}`);
  }
  const banned = await ok(['defender', 'list', '--banned', '--json', ...store]);
  assert.match(banned, /127\.0\.0\.57/);

  // Each node's records in the one chain name their node: in the CLI's export lines and in the API of either node.
  const lines = (await ok(['audit', 'query', '--json', '--action', 'auth', ...store])).trim().split('\n');
  const authNodes = lines.map((l) => (JSON.parse(l) as { node?: string }).node);
  assert.deepEqual([...new Set(authNodes)].sort(), ['node-a', 'node-b'], lines.join('\n'));
  await ok(['audit', 'verify', ...store]);
  const key = (await ok(['apikeys', 'add', 'ops', '--role', 'admin', ...store])).trim().split('\n').at(-1)!;
  const res = await fetch(
    `http://${nodes[1]!.address}:${nodes[1]!.httpPort}/api/audit?action=auth&limit=100`,
    {
      headers: { authorization: `Bearer ${key}` },
    },
  );
  assert.equal(res.status, 200);
  const items = ((await res.json()) as { items: { node: string | null }[] }).items;
  assert.deepEqual([...new Set(items.map((r) => r.node))].sort(), ['node-a', 'node-b']);
});
