// Cluster mode's node registry, as an operator sees it: two `ferry serve` nodes on one PostgreSQL store listed by
// `ferry cluster status` with their sessions (a real OpenSSH sftp session), a node killed with -9 shown down, a
// second live node with the same id refused (and admitted once the first is stale); one node on SQLite.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { curl } from './helpers/ferry-serve.js';
import { holdSftp } from './helpers/openssh.js';

const unavailable = await postgresUnavailable();

/** Short heartbeats so a killed node is stale after 3 × 0.3 s, not 15 s. */
const HEARTBEAT_ENV = { FERRY_NODE_HEARTBEAT_SECONDS: '0.3', FERRY_LOG_LEVEL: 'warn' };

interface Node {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  readonly httpPort: number;
}

/** Starts `ferry serve` and resolves with its SFTP port once it listens (rejects with its output if it exits). */
function serve(
  args: string[],
  t: { after(fn: () => unknown): void },
  env: Record<string, string> = {},
): Promise<Node> {
  // The caller's arguments last: a repeated option's last value wins (a fixed --sftp-port).
  const child = spawn(
    process.execPath,
    [
      FERRY_BIN,
      'serve',
      '--listen',
      '127.0.0.1',
      '--sftp-port',
      '0',
      '--http-listen',
      '127.0.0.1:0',
      ...args,
    ],
    { env: { ...process.env, ...HEARTBEAT_ENV, ...env } },
  );
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  return new Promise<Node>((resolve, reject) => {
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
      const h = /HTTP API listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      // The hardening lines come once the server started, node registration included (it follows the listeners).
      if (m && h && /^landlock: /m.test(out)) resolve({ child, port: Number(m[1]), httpPort: Number(h[1]) });
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

interface NodeView {
  id: string;
  state: 'up' | 'down';
  sessions: number;
  processes: number;
  version: string;
  uptimeSeconds: number;
  lastHeartbeat: string;
  listeners: { name: string; port: number }[];
}

async function status(store: string[]): Promise<NodeView[]> {
  const r = await runFerry(['cluster', 'status', '--json', ...store]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as NodeView[];
}

/** Polls `ferry cluster status --json` until `ok` holds (10 s at most), returning the last view. */
async function statusUntil(store: string[], ok: (nodes: NodeView[]) => boolean): Promise<NodeView[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const nodes = await status(store);
    if (ok(nodes) || Date.now() > deadline) return nodes;
    await delay(200);
  }
}

const byId = (nodes: NodeView[], id: string) => nodes.find((n) => n.id === id);

test('two nodes on one PostgreSQL store: listed with sessions, a killed one shown down, a live id refused', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const store = ['--data-dir', join(work, 'data'), '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], 'cluster-pw-1\n');
  assert.equal(added.code, 0, added.stderr);

  const [a, b] = await Promise.all([
    serve([...store, '--workers', '1', '--node-id', 'node-a'], t),
    serve([...store, '--workers', '2', '--node-id', 'node-b'], t),
  ]);
  // A real OpenSSH session on node-a, held open.
  const session = holdSftp(a.port, 'alice', 'cluster-pw-1');
  t.after(() => session.child.kill('SIGKILL'));
  let nodes = await statusUntil(
    store,
    (n) => byId(n, 'node-a')?.sessions === 1 && byId(n, 'node-b')?.processes === 2,
  );
  assert.deepEqual(
    nodes.map((n) => [n.id, n.state, n.sessions, n.processes]),
    [
      ['node-a', 'up', 1, 1],
      ['node-b', 'up', 0, 2],
    ],
  );
  assert.equal(byId(nodes, 'node-a')?.listeners.find((l) => l.name === 'sftp')?.port, a.port);
  assert.equal(byId(nodes, 'node-b')?.listeners.find((l) => l.name === 'sftp')?.port, b.port);
  assert.match(byId(nodes, 'node-a')?.version ?? '', /^\d+\.\d+\.\d+/);

  // The table a person reads.
  const table = await runFerry(['cluster', 'status', ...store]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^NODE +STATE +VERSION +UPTIME +SESSIONS +PROCS +LAST HEARTBEAT$/m);
  assert.match(table.stdout, /^node-a +up +\S+ +\S+ +1 +1 +\d{4}-/m);

  // A second live node with node-a's id: one clear line, and it does not start.
  const dup = spawn(
    process.execPath,
    [FERRY_BIN, 'serve', ...store, '--workers', '1', '--node-id', 'node-a', '--listen', '127.0.0.1'],
    { env: { ...process.env, ...HEARTBEAT_ENV, FERRY_SFTP_PORT: '0', FERRY_HTTP_LISTEN: '127.0.0.1:0' } },
  );
  t.after(() => dup.kill('SIGKILL'));
  let dupErr = '';
  dup.stderr.on('data', (d: Buffer) => {
    dupErr += d.toString();
  });
  dup.stdout.resume();
  const dupCode = await Promise.race([
    new Promise<number | null>((resolve) => dup.on('exit', (code) => resolve(code))),
    delay(20_000).then(() => 'still running after 20 s'),
  ]);
  assert.ok(
    typeof dupCode === 'number' && dupCode !== 0,
    `the duplicate must exit with an error: ${dupCode}`,
  );
  assert.match(
    dupErr,
    /^ferry: node id 'node-a' is in use by a live node \(pid \d+ on .+, last heartbeat .+\); give this one another --node-id, or stop the other$/m,
  );
  nodes = await status(store);
  assert.equal(byId(nodes, 'node-a')?.sessions, 1, 'the refused node took nothing over');

  // node-a dies without a word: down once it missed three heartbeats; node-b stays up.
  a.child.kill('SIGKILL');
  nodes = await statusUntil(store, (n) => byId(n, 'node-a')?.state === 'down');
  assert.deepEqual(
    nodes.map((n) => [n.id, n.state, n.sessions]),
    [
      ['node-a', 'down', 0],
      ['node-b', 'up', 0],
    ],
  );
  // Its id is free again: a new node-a starts and is up.
  await serve([...store, '--workers', '1', '--node-id', 'node-a'], t);
  nodes = await statusUntil(store, (n) => byId(n, 'node-a')?.state === 'up');
  assert.equal(byId(nodes, 'node-a')?.state, 'up');
  assert.equal(byId(nodes, 'node-a')?.processes, 1);
});

test('one node on SQLite: listed up while it serves, restarted at once after kill -9, gone after a clean stop', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-sqlite-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const store = ['--data-dir', join(work, 'data')];
  // Long heartbeats: the killed node's row is still fresh when it restarts.
  const slow = { FERRY_NODE_HEARTBEAT_SECONDS: '60' };
  const crashed = await serve([...store, '--workers', '1'], t, slow);
  crashed.child.removeAllListeners('exit');
  const gone = new Promise((resolve) => crashed.child.once('exit', resolve));
  crashed.child.kill('SIGKILL');
  await gone;
  // Restarted on its port (its default id) at once, as systemd's Restart= does: its own dead process is no holder.
  const node = await serve([...store, '--workers', '1', '--sftp-port', String(crashed.port)], t, slow);
  const nodes = await status(store);
  assert.equal(nodes.length, 1);
  // The default id: the host name and the SFTP port.
  assert.match(nodes[0]!.id, new RegExp(`:${node.port}$`));
  assert.equal(nodes[0]!.state, 'up');
  // GET /api/cluster says the same to every role (an auditor's key here), and nothing without a key.
  const added = await runFerry(['apikeys', 'add', 'watch', '--role', 'auditor', ...store]);
  assert.equal(added.code, 0, added.stderr);
  const key = added.stdout.trim().split('\n').at(-1)!;
  const url = `http://127.0.0.1:${node.httpPort}/api/cluster`;
  const api = await curl(['-H', `Authorization: Bearer ${key}`, url]);
  assert.equal(api.status, 200, api.body);
  const items = (JSON.parse(api.body) as { items: NodeView[] }).items;
  assert.deepEqual(
    items.map((n) => [n.id, n.state, n.processes]),
    [[nodes[0]!.id, 'up', 1]],
  );
  assert.equal((await curl([url])).status, 401);
  await new Promise<void>((resolve) => {
    node.child.removeAllListeners('exit');
    node.child.on('exit', () => resolve());
    node.child.kill('SIGTERM');
  });
  const after = await runFerry(['cluster', 'status', ...store]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout, 'no nodes registered (no ferry serve is running on this store)\n');
});
