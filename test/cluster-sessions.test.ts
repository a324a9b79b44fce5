// Cluster mode's sessions, as an operator and a user see them: two `ferry serve` nodes on one PostgreSQL store;
// a user limited to 2 sessions gets 2 in all (not 2 per node), GET /api/sessions on either node lists both nodes'
// sessions, and DELETE /api/sessions/{id} on one node ends a real OpenSSH session held by the other.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { runFerry } from './helpers/cli.js';
import { startClusterNode } from './helpers/cluster-node.js';
import { holdSftp, sftpBatch } from './helpers/openssh.js';

const unavailable = await postgresUnavailable();
const PASSWORD = 'Sess10ns-pa55';

interface SessionView {
  id: string;
  username: string | null;
  node?: string;
  pid: number;
}

test('sessions across two nodes: one per-user limit, one list, a kill from the other node', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-sessions-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const store = ['--data-dir', join(work, 'data'), '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);
  const keyAdded = await runFerry(['apikeys', 'add', 'ops', '--role', 'admin', ...store]);
  assert.equal(keyAdded.code, 0, keyAdded.stderr);
  const key = keyAdded.stdout.trim().split('\n').at(-1)!;

  const env = { FERRY_NODE_HEARTBEAT_SECONDS: '0.5', FERRY_MAX_SESSIONS_PER_USER: '2' };
  const [a, b] = await Promise.all([
    startClusterNode('127.0.0.21', [...store, '--workers', '1', '--node-id', 'node-a'], t, env),
    startClusterNode('127.0.0.22', [...store, '--workers', '2', '--node-id', 'node-b'], t, env),
  ]);
  const api = async (node: typeof a, method: string, path: string) => {
    const res = await fetch(`http://${node.address}:${node.httpPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const listed = async (node: typeof a) => {
    const r = await api(node, 'GET', '/api/sessions');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body.items as SessionView[]).filter((s) => s.username === 'alice');
  };
  /** Polls the list on `node` until `ok` holds (15 s at most). */
  const listedUntil = async (node: typeof a, ok: (s: SessionView[]) => boolean) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const items = await listed(node);
      if (ok(items) || Date.now() > deadline) return items;
      await delay(100);
    }
  };
  const hold = (node: typeof a) => {
    const s = holdSftp(node.port, 'alice', PASSWORD, node.address);
    t.after(() => s.child.kill('SIGKILL'));
    return s;
  };

  // One session on each node: two in all, each seen from either node.
  const onA = hold(a);
  let items = await listedUntil(a, (s) => s.length === 1);
  const onB = hold(b);
  items = await listedUntil(a, (s) => s.length === 2);
  assert.deepEqual(items.map((s) => s.node).sort(), ['node-a', 'node-b']);
  assert.deepEqual((await listedUntil(b, (s) => s.length === 2)).map((s) => s.node).sort(), [
    'node-a',
    'node-b',
  ]);

  // The user is at the limit on the cluster: a third login is refused on either node, though each holds one.
  for (const node of [a, b]) {
    const third = await sftpBatch({
      port: node.port,
      user: 'alice',
      password: PASSWORD,
      batch: 'pwd\n',
      host: node.address,
    });
    assert.notEqual(third.code, 0, `a third session on ${node.address} is refused`);
  }
  const audit = await runFerry(['audit', 'query', '--json', '--action', 'security', ...store]);
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /maxSessionsPerUser/);

  // node-a ends node-b's session: the OpenSSH client there is disconnected, and the kill is audited.
  const bSession = items.find((s) => s.node === 'node-b')!;
  const killed = await api(a, 'DELETE', `/api/sessions/${bSession.id}`);
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  assert.equal(killed.body.node, 'node-b');
  assert.equal(killed.body.username, 'alice');
  // sftp waits on its standard input; its next command meets the closed connection.
  onB.child.stdin?.write('ls\n');
  const ended = await Promise.race([onB.exited, delay(15_000).then(() => 'still connected')]);
  assert.notEqual(ended, 'still connected', 'the session on node-b was ended');
  assert.match((ended as { stderr: string }).stderr, /Connection closed|closed by remote host/i);
  items = await listedUntil(a, (s) => s.length === 1);
  assert.deepEqual(
    items.map((s) => s.node),
    ['node-a'],
  );
  // A place is free again: a new session on node-b is admitted.
  const again = await sftpBatch({
    port: b.port,
    user: 'alice',
    password: PASSWORD,
    batch: 'pwd\n',
    host: b.address,
  });
  assert.equal(again.code, 0, again.stderr);
  // An unknown id is a 404 on either node.
  assert.equal((await api(b, 'DELETE', '/api/sessions/0123456789ab')).status, 404);
  assert.equal(onA.child.exitCode, null, 'the session on node-a is untouched');
  const recorded = await runFerry(['audit', 'query', '--json', '--action', 'admin', ...store]);
  assert.match(recorded.stdout, new RegExp(`session ${bSession.id}.*"node":"node-b"`));
});
