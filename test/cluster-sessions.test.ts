// Cluster mode's sessions, as an operator and a user see them: two `ferry serve` nodes on one PostgreSQL store;
// a user limited to 2 sessions gets 2 in all (not 2 per node), GET /api/sessions on either node lists both nodes'
// sessions, and DELETE /api/sessions/{id} on one node ends a real OpenSSH session held by the other (and an FTPS
// session, and a web client sign-in whose cookie both nodes then refuse).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { runFerry } from './helpers/cli.js';
import { startClusterNode } from './helpers/cluster-node.js';
import { holdSftp, sftpBatch } from './helpers/openssh.js';
import { WebClient } from './helpers/web-client.js';

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

/** An implicit FTPS login held open: the server's answer to PASS, and what the connection says until it closes. */
async function holdFtps(host: string, port: number, user: string, password: string) {
  const socket = tlsConnect({ host, port, rejectUnauthorized: false });
  let text = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    text += d.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  socket.on('error', () => {});
  /** The next reply line after `from` characters: a code and its text. */
  const reply = async (from: number): Promise<string> => {
    for (;;) {
      const line = /^\d{3} .*$/m.exec(text.slice(from));
      if (line) return line[0];
      const woke = new Promise<void>((resolve) => waiters.push(resolve));
      if ((await Promise.race([woke.then(() => 'data'), closed.then(() => 'closed')])) === 'closed')
        return text.slice(from) || 'closed';
    }
  };
  await reply(0);
  let at = text.length;
  socket.write(`USER ${user}\r\n`);
  await reply(at);
  at = text.length;
  socket.write(`PASS ${password}\r\n`);
  return { answer: await reply(at), closed, end: () => socket.destroy() };
}

test('FTPS sessions across two nodes: counted with SSH ones, listed on both, killed from the other node', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-ftps-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const store = ['--data-dir', join(work, 'data'), '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);
  const keyAdded = await runFerry(['apikeys', 'add', 'ops', '--role', 'admin', ...store]);
  const key = keyAdded.stdout.trim().split('\n').at(-1)!;
  const env = { FERRY_NODE_HEARTBEAT_SECONDS: '0.5', FERRY_MAX_SESSIONS_PER_USER: '2' };
  const ftpsArgs = ['--ftps-implicit-port', '0', '--workers', '1'];
  const [a, b] = await Promise.all([
    startClusterNode('127.0.0.23', [...store, ...ftpsArgs, '--node-id', 'node-a'], t, env),
    startClusterNode('127.0.0.24', [...store, ...ftpsArgs, '--node-id', 'node-b'], t, env),
  ]);
  const ftpsPort = (node: typeof a) =>
    Number(/FTPS listening \(implicit [\d.]+:(\d+)\)/.exec(node.output())![1]);
  const api = async (node: typeof a, method: string, path: string) => {
    const res = await fetch(`http://${node.address}:${node.httpPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const listedUntil = async (node: typeof a, ok: (s: SessionView[]) => boolean) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await api(node, 'GET', '/api/sessions');
      const items = (r.body.items as (SessionView & { protocol: string })[]).filter(
        (s) => s.username === 'alice',
      );
      if (ok(items) || Date.now() > deadline) return items;
      await delay(100);
    }
  };

  // An FTPS session on node-a and an SSH one on node-b: the user's two places on the cluster.
  const ftps = await holdFtps(a.address, ftpsPort(a), 'alice', PASSWORD);
  t.after(() => ftps.end());
  assert.match(ftps.answer, /^230 /);
  const ssh = holdSftp(b.port, 'alice', PASSWORD, b.address);
  t.after(() => ssh.child.kill('SIGKILL'));
  const items = await listedUntil(b, (s) => s.length === 2);
  const ftpsSession = items.find((s) => s.node === 'node-a');
  assert.equal(ftpsSession?.protocol, 'ftps', JSON.stringify(items));
  assert.deepEqual(items.map((s) => s.node).sort(), ['node-a', 'node-b']);

  // A third login is refused, over FTPS on node-b (which holds only the SSH session) and over SFTP on node-a.
  const third = await holdFtps(b.address, ftpsPort(b), 'alice', PASSWORD);
  t.after(() => third.end());
  assert.match(third.answer, /^421 /, third.answer);
  const sftpThird = await sftpBatch({
    port: a.port,
    host: a.address,
    user: 'alice',
    password: PASSWORD,
    batch: 'pwd\n',
  });
  assert.notEqual(sftpThird.code, 0, 'the SFTP login is refused while FTPS holds a place');
  const audit = await runFerry(['audit', 'query', '--json', '--action', 'security', ...store]);
  assert.match(audit.stdout, /"scope":"cluster"/);

  // node-b ends node-a's FTPS session: its client is told and disconnected, and the place is free again.
  const killed = await api(b, 'DELETE', `/api/sessions/${ftpsSession!.id}`);
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  assert.equal(killed.body.node, 'node-a');
  const said = await Promise.race([ftps.closed, delay(15_000).then(() => 'still connected')]);
  assert.match(said, /421 Session ended by the administrator/);
  assert.deepEqual(
    (await listedUntil(a, (s) => s.length === 1)).map((s) => s.node),
    ['node-b'],
  );
  const again = await holdFtps(b.address, ftpsPort(b), 'alice', PASSWORD);
  t.after(() => again.end());
  assert.match(again.answer, /^230 /);
});

test('web client sign-ins across two nodes: listed on both, honoured on both, ended on both by the other node', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-web-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const store = ['--data-dir', join(work, 'data'), '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const added = await runFerry(['users', 'add', 'alice', '--password-stdin', ...store], `${PASSWORD}\n`);
  assert.equal(added.code, 0, added.stderr);
  const keyAdded = await runFerry(['apikeys', 'add', 'ops', '--role', 'admin', ...store]);
  const key = keyAdded.stdout.trim().split('\n').at(-1)!;
  const env = { FERRY_NODE_HEARTBEAT_SECONDS: '0.5' };
  const [a, b] = await Promise.all([
    startClusterNode('127.0.0.25', [...store, '--workers', '1', '--node-id', 'node-a'], t, env),
    startClusterNode('127.0.0.26', [...store, '--workers', '1', '--node-id', 'node-b'], t, env),
  ]);
  const base = (node: typeof a) => `http://${node.address}:${node.httpPort}`;
  const api = async (node: typeof a, method: string, path: string) => {
    const res = await fetch(`${base(node)}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const webSessions = async (node: typeof a) => {
    const r = await api(node, 'GET', '/api/sessions?protocol=https');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.items as (SessionView & { protocol: string; remoteAddress: string })[];
  };

  // Signed in on node-a: node-b lists it (with the node that signed it in) and honours its cookie.
  const onA = new WebClient(base(a));
  assert.equal((await onA.login('alice', PASSWORD)).status, 303);
  const [session, ...others] = await webSessions(b);
  assert.deepEqual(others, []);
  assert.deepEqual(
    [session?.username, session?.protocol, session?.node, session?.remoteAddress],
    ['alice', 'https', 'node-a', '127.0.0.1'],
  );
  assert.deepEqual(
    (await webSessions(a)).map((s) => s.id),
    [session!.id],
  );
  const onB = new WebClient(base(b));
  onB.cookies.set('ferry_files', onA.cookies.get('ferry_files')!);
  assert.equal((await onB.request('GET', '/files/')).status, 200);

  // node-b ends it: the cookie is refused on both nodes at their next request.
  const killed = await api(b, 'DELETE', `/api/sessions/${session!.id}`);
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  assert.deepEqual([killed.body.username, killed.body.node], ['alice', 'node-a']);
  assert.equal((await onA.request('GET', '/files/')).headers.get('location'), '/files/login');
  assert.equal((await onB.request('GET', '/files/')).headers.get('location'), '/files/login');
  assert.deepEqual(await webSessions(a), []);
});
