// Cluster mode's change propagation: a host key rotated by `ferry keys host …` on a PostgreSQL store is presented
// by a running node at once, through NOTIFY, although the node's own poll of the store would take 10 minutes.
// The same for the defender's deny list: every worker drops a newly denied address at once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { createTestDatabase, postgresUnavailable } from '../src/store/postgres/test-database.js';
import { runFerry } from './helpers/cli.js';
import { startClusterNode } from './helpers/cluster-node.js';

const unavailable = await postgresUnavailable();
const execFileAsync = promisify(execFile);

/** The SHA-256 fingerprint of the Ed25519 host key the server presents now (ssh-keyscan). */
async function presentedEd25519(host: string, port: number): Promise<string> {
  const { stdout } = await execFileAsync('ssh-keyscan', ['-t', 'ed25519', '-p', String(port), host]);
  const blob =
    stdout
      .split('\n')
      .find((l) => l.includes('ssh-ed25519'))
      ?.split(' ')[2] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

interface ListedKey {
  id: number;
  algorithm: string;
  sha256: string;
  state: string;
}

test('a host key rotated from the CLI is presented by a running node at once (NOTIFY), not at its next poll', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-notify-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const store = ['--data-dir', join(work, 'data'), '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  const list = async () => {
    const r = await runFerry(['keys', 'host', 'list', '--json', ...store]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as ListedKey[]).filter((k) => k.algorithm === 'ssh-ed25519');
  };
  const [old] = await list();
  assert.ok(old);
  // The node polls the store for host keys every 10 minutes here: only the notification can tell it in time.
  const node = await startClusterNode('127.0.0.41', [...store, '--workers', '2', '--node-id', 'node-a'], t, {
    FERRY_HOST_KEY_POLL_MS: '600000',
  });
  assert.equal(await presentedEd25519(node.address, node.port), old.sha256);

  const added = await runFerry(['keys', 'host', 'generate', '--type', 'ed25519', ...store]);
  assert.equal(added.code, 0, added.stderr);
  const id = Number(added.stdout.match(/host key (\d+) generated/)![1]);
  assert.equal((await runFerry(['keys', 'host', 'promote', String(id), ...store])).code, 0);
  assert.equal((await runFerry(['keys', 'host', 'retire', String(old.id), ...store])).code, 0);
  const fresh = (await list()).find((k) => k.id === id)!;

  // Both workers present the new key (each connection goes to either); 20 s is a bound, not a measurement.
  const deadline = Date.now() + 20_000;
  let seen: string[] = [];
  for (;;) {
    seen = await Promise.all([1, 2, 3, 4].map(() => presentedEd25519(node.address, node.port)));
    if (seen.every((s) => s === fresh.sha256) || Date.now() > deadline) break;
    await delay(200);
  }
  assert.deepEqual(
    seen,
    Array(4).fill(fresh.sha256),
    'the rotated key is presented without waiting for the poll',
  );
});

/** Whether a connection from 127.0.0.1 gets the node's SSH banner (a deny-listed address is dropped first). */
async function admitted(host: string, port: number): Promise<boolean> {
  const { stdout } = await execFileAsync('ssh-keyscan', [
    '-T',
    '5',
    '-t',
    'ed25519',
    '-p',
    String(port),
    host,
  ]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return stdout.includes('ssh-ed25519');
}

test('a deny entry added from the CLI refuses 127.0.0.1 on a running node at once (NOTIFY), and its removal too', {
  skip: unavailable,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'ferry-cluster-deny-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const db = await createTestDatabase();
  t.after(() => db.drop());
  const store = ['--data-dir', join(work, 'data'), '--store', db.url];
  assert.equal((await runFerry(['init', ...store])).code, 0);
  // Each worker keeps its read of the lists for 10 minutes here: only the notification can tell it in time.
  const node = await startClusterNode('127.0.0.42', [...store, '--workers', '2', '--node-id', 'node-d'], t, {
    FERRY_DEFENDER_LISTS_MAX_AGE_MS: '600000',
  });
  // Every worker has read the (empty) lists: connections go to either.
  for (let i = 0; i < 4; i++) assert.equal(await admitted(node.address, node.port), true);

  const until = async (want: boolean) => {
    const deadline = Date.now() + 20_000;
    let seen: boolean[] = [];
    for (;;) {
      seen = await Promise.all([1, 2, 3, 4].map(() => admitted(node.address, node.port)));
      if (seen.every((s) => s === want) || Date.now() > deadline) return seen;
      await delay(200);
    }
  };
  const added = await runFerry(['defender', 'deny', 'add', '127.0.0.1', '--note', 'test', ...store]);
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(await until(false), Array(4).fill(false), 'every worker refuses without waiting');
  const removed = await runFerry(['defender', 'deny', 'remove', '127.0.0.1', ...store]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(await until(true), Array(4).fill(true), 'and admits again');
});
