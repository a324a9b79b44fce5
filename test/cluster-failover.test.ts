// Cluster mode's proof: two `ferry serve` nodes on one PostgreSQL store and one shared data dir behind HAProxy; the
// node carrying an OpenSSH upload is killed with -9 half-way, `reput` through HAProxy lands on the survivor and
// completes the file byte for byte, the audit chain verifies with both nodes' records in it, and the cut upload
// never showed as a complete file in between.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { runFerry } from './helpers/cli.js';
import { type ClusterNode, startClusterNode } from './helpers/cluster-node.js';
import { HAPROXY, startHaproxy } from './helpers/haproxy.js';
import { sftpBatch } from './helpers/openssh.js';

const unavailable = (await postgresUnavailable()) ?? (HAPROXY ? undefined : 'haproxy is not installed');
const PASSWORD = 'Fa1lover-pa55';
/** The issue asks for 300 MiB; a smaller default keeps a shared test machine usable (FERRY_TEST_FAILOVER_MIB). */
const MIB = Number(process.env.FERRY_TEST_FAILOVER_MIB ?? 96);

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

/** Writes `mib` MiB of random bytes, a MiB at a time. */
async function randomFile(path: string, mib: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < mib; i++)
    if (!out.write(randomBytes(1024 * 1024))) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

/** The regular files of a home and their sizes (partials have a hidden name beside the final one). */
async function filesIn(dir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const name of await readdir(dir).catch(() => [])) {
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s?.isFile()) found.set(name, s.size);
  }
  return found;
}

/** Which node holds the one open session, read from the node registry's heartbeats in the store. */
async function nodeWithSession(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await client.query<{ node_id: string }>(
        'SELECT node_id FROM nodes WHERE sessions > 0',
      );
      if (rows.length === 1) return rows[0]!.node_id;
      assert.ok(Date.now() < deadline, `no single node with the session: ${JSON.stringify(rows)}`);
      await delay(50);
    }
  } finally {
    await client.end();
  }
}

test('kill -9 of the node carrying an upload: reput through HAProxy completes it on the other node', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-failover-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  // One data dir for both nodes: the shared mount (homes, master key); the store holds the host keys.
  const dataDir = join(work, 'shared');
  const store = ['--data-dir', dataDir, '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);

  const nodeArgs = (id: string) => [
    ...store,
    '--workers',
    '1',
    '--node-id',
    id,
    '--proxy-protocol-from',
    '127.0.0.0/8',
  ];
  const env = { FERRY_NODE_HEARTBEAT_SECONDS: '0.3' };
  const nodes = new Map<string, ClusterNode>();
  const [a, b] = await Promise.all([
    startClusterNode('127.0.0.11', nodeArgs('node-a'), t, env),
    startClusterNode('127.0.0.12', nodeArgs('node-b'), t, env),
  ]);
  nodes.set('node-a', a);
  nodes.set('node-b', b);
  const haproxy = await startHaproxy(
    [a, b].map((n) => ({ sftp: `${n.address}:${n.port}`, httpPort: n.httpPort })),
    'send-proxy-v2',
  );
  t.after(() => haproxy.stop());

  const local = join(work, 'big.bin');
  await randomFile(local, MIB);
  const home = join(dataDir, 'homes', 'alice');
  // Watches the home all along: the final name must not appear before the reput completes it.
  let watching = true;
  let reputStarted = false;
  let seenFinalEarly = false;
  t.after(() => {
    watching = false;
  });
  const watcher = (async () => {
    while (watching) {
      // Read before the listing: a name seen is then known to have appeared before the reput began.
      const early = !reputStarted;
      const size = (await filesIn(home)).get('big.bin');
      if (size !== undefined && (early || size !== MIB * 1024 * 1024)) seenFinalEarly = true;
      await delay(20);
    }
  })();

  const reput = () =>
    sftpBatch({
      port: haproxy.port,
      user: 'alice',
      password: PASSWORD,
      options: ['BindAddress=127.0.0.2'],
      batch: `reput ${local} /big.bin\n`,
    });
  const upload = sftpBatch({
    port: haproxy.port,
    user: 'alice',
    password: PASSWORD,
    options: ['BindAddress=127.0.0.2'],
    // About 25 MB/s at most (-l is in Kbit/s): the upload is still under way when its node is found.
    extraArgs: ['-l', '200000'],
    batch: `put ${local} /big.bin\n`,
  });
  const holder = await nodeWithSession(db.url);
  const victim = nodes.get(holder)!;
  const survivor = [...nodes.values()].find((n) => n !== victim)!;
  // Half-way: the partial (the only file in the home) has half the bytes.
  const half = (MIB * 1024 * 1024) / 2;
  for (;;) {
    const partial = [...(await filesIn(home)).values()][0] ?? 0;
    if (partial >= half) break;
    await delay(10);
  }
  await victim.killNode();
  const cut = await upload;
  assert.notEqual(cut.code, 0, 'the cut upload fails on the client');
  const left = await filesIn(home);
  assert.equal(left.has('big.bin'), false, 'no complete file after the kill');
  assert.equal(left.size, 1, `one partial left: ${[...left.keys()]}`);
  const partialSize = [...left.values()][0]!;
  assert.ok(partialSize < MIB * 1024 * 1024, 'the partial is short of the whole file');
  // What the reput continues must be the source's first bytes, without a hole left by a write still in flight.
  const partialName = [...left.keys()][0]!;
  const prefix = createHash('sha256')
    .update((await readFile(local)).subarray(0, partialSize))
    .digest('hex');
  assert.equal(await sha256(join(home, partialName)), prefix, 'the partial is the source up to its size');

  // The client comes back through the same balancer; the dead node refuses, HAProxy sends it to the survivor.
  // Until the dead node has missed 3 heartbeats its claim on the partial stands (it might only be cut off, still
  // writing), so an early reput is refused as in progress and the client tries again, as a person would.
  reputStarted = true;
  let r = await reput();
  for (let attempt = 1; r.code !== 0 && /in progress|Failure/i.test(r.stderr) && attempt < 40; attempt++) {
    await delay(250);
    r = await reput();
  }
  watching = false;
  await watcher;
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(
    seenFinalEarly,
    false,
    'the killed upload never showed as a complete file (only the reput published it, whole)',
  );
  assert.equal(await sha256(join(home, 'big.bin')), await sha256(local));
  assert.deepEqual([...(await filesIn(home)).keys()], ['big.bin'], 'no partial left over');

  const verify = await runFerry(['audit', 'verify', ...store]);
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    // Both connections (one per node) are in the one chain: the cut one's login and the reput's completed upload.
    const { rows } = await client.query<{
      action: string;
      session_id: string | null;
      detail: string;
      node: string | null;
    }>(
      "SELECT action, session_id, detail, node FROM audit_log WHERE action IN ('auth', 'upload') ORDER BY seq",
    );
    const sessions = new Set(rows.filter((row) => row.action === 'auth').map((row) => row.session_id));
    assert.ok(sessions.size >= 2, JSON.stringify(rows));
    // Each node's records name it: the cut login's on the victim, the reput's on the survivor.
    const logins = rows.filter((row) => row.action === 'auth');
    assert.ok(
      logins.some((row) => row.node === holder),
      `a login on ${holder}: ${JSON.stringify(logins)}`,
    );
    const survivorId = holder === 'node-a' ? 'node-b' : 'node-a';
    assert.ok(
      logins.some((row) => row.node === survivorId),
      `a login on ${survivorId}`,
    );
    assert.equal(
      rows.filter((row) => row.action === 'upload').at(-1)?.node,
      survivorId,
      'the upload completed on the survivor',
    );
    const uploads = rows.filter((row) => row.action === 'upload');
    assert.ok(uploads.length >= 1, 'the completed upload is audited');
  } finally {
    await client.end();
  }
  assert.equal(survivor.child.exitCode, null, 'the survivor still serves');
});

test('one upload name, two nodes: the second writer is refused while the first writes, then the first completes intact', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-claims-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const dataDir = join(work, 'shared');
  const store = ['--data-dir', dataDir, '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);
  const env = { FERRY_NODE_HEARTBEAT_SECONDS: '0.5' };
  const [a, b] = await Promise.all([
    startClusterNode('127.0.0.31', [...store, '--workers', '1', '--node-id', 'node-a'], t, env),
    startClusterNode('127.0.0.32', [...store, '--workers', '1', '--node-id', 'node-b'], t, env),
  ]);
  const first = join(work, 'first.bin');
  const second = join(work, 'second.bin');
  await randomFile(first, 16);
  await randomFile(second, 1);
  const home = join(dataDir, 'homes', 'alice');
  // 16 MiB at about 2 MB/s on node-a: under way for several seconds.
  const slow = sftpBatch({
    port: a.port,
    host: a.address,
    user: 'alice',
    password: PASSWORD,
    extraArgs: ['-l', '16000'],
    batch: `put ${first} /report.bin\n`,
  });
  while (((await filesIn(home)).size ?? 0) === 0) await delay(20);
  // The same name from node-b, whose process has no claim of its own on it: refused, nothing written.
  const clash = await sftpBatch({
    port: b.port,
    host: b.address,
    user: 'alice',
    password: PASSWORD,
    batch: `put ${second} /report.bin\n`,
  });
  assert.notEqual(clash.code, 0, 'the second writer is refused');
  assert.match(clash.stderr, /in progress|Failure/i, clash.stderr);
  const done = await slow;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(await sha256(join(home, 'report.bin')), await sha256(first), "the first writer's file, whole");
  // The claim went with the upload: node-b may write the name now.
  const after = await sftpBatch({
    port: b.port,
    host: b.address,
    user: 'alice',
    password: PASSWORD,
    batch: `put ${second} /report.bin\n`,
  });
  assert.equal(after.code, 0, after.stderr);
  assert.equal(await sha256(join(home, 'report.bin')), await sha256(second));
});
