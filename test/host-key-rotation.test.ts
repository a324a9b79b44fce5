// Host key rotation as OpenSSH clients live it, for every key type: a new key is announced but not presented until
// promoted, the old one is presented until retired, and a client pinned to either key never sees a changed host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { iterateAudit } from '../src/audit/query.js';
import type { AuditRecord } from '../src/store/types.js';
import { runFerry } from './helpers/cli.js';
import { sftpBatch, sshRun } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let work: string;

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', server.dataDir], '', { FERRY_ALGORITHMS: 'compat' });
}

interface ListedKey {
  id: number;
  algorithm: string;
  sha256: string;
  state: string;
  presented: boolean;
}

async function listKeys(): Promise<ListedKey[]> {
  const r = await ferry(['keys', 'host', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ListedKey[];
}

/** A known_hosts file that trusts exactly these host keys (by id) for the test server. */
async function pinnedTo(name: string, ids: number[]): Promise<string> {
  const lines: string[] = [];
  for (const id of ids) {
    const r = await ferry(['keys', 'host', 'export', String(id), '--public']);
    assert.equal(r.code, 0, r.stderr);
    const [algorithm, blob] = r.stdout.trim().split(' ');
    lines.push(`[127.0.0.1]:${server.port} ${algorithm} ${blob}`);
  }
  const file = join(work, name);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

function knownFingerprints(text: string): string[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => execFileSync('ssh-keygen', ['-lf', '-'], { input: l }).toString().split(' ')[1]!)
    .sort();
}

/** OpenSSH strictly checking against `knownHosts`, offered only `hostKeyAlgorithms`; INFO so warnings would show. */
function strictOptions(
  knownHosts: string,
  hostKeyAlgorithms: string,
  updateHostKeys: 'yes' | 'no',
): string[] {
  return [
    'StrictHostKeyChecking=yes',
    `UserKnownHostsFile=${knownHosts}`,
    `UpdateHostKeys=${updateHostKeys}`,
    `HostKeyAlgorithms=${hostKeyAlgorithms}`,
    'LogLevel=INFO',
  ];
}

async function sftpLogin(knownHosts: string, algorithms: string, update: 'yes' | 'no' = 'no') {
  return sftpBatch({
    port: server.port,
    user: 'alice',
    password: 'alice-pw',
    batch: 'pwd\n',
    options: strictOptions(knownHosts, algorithms, update),
  });
}

/** `ssh -s sftp` with nothing on stdin: a login that ends at once, for the plain ssh client. */
async function sshLogin(knownHosts: string, algorithms: string) {
  return sshRun({
    port: server.port,
    user: 'alice',
    password: 'alice-pw',
    options: strictOptions(knownHosts, algorithms, 'no'),
    extraArgs: ['-s'],
    command: ['sftp'],
  });
}

function assertCleanLogin(r: { code: number | null; stderr: string }, what: string): void {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /WARNING|IDENTIFICATION HAS CHANGED|verification failed/i, what);
}

/** The admin records of a server's trail, once everything queued is committed. */
async function adminRecords(of: TestServer): Promise<AuditRecord[]> {
  await of.running.context.audit.flush();
  const records: AuditRecord[] = [];
  for await (const r of iterateAudit(of.running.context.store.audit, { actions: ['admin'] })) records.push(r);
  return records;
}

const detailOf = (r: AuditRecord) =>
  JSON.parse(r.detail) as { command?: string; changes?: Record<string, unknown> };

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-rotation-'));
  // compat presents the ECDSA host key too, so all three types can be rotated on one server.
  server = await startTestServer({ config: { algorithms: 'compat' } });
  await server.addUser('alice', { password: 'alice-pw' });
});
after(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

const cases = [
  { type: 'ed25519', algorithm: 'ssh-ed25519', offered: 'ssh-ed25519', how: 'generate' },
  { type: 'ecdsa', algorithm: 'ecdsa-sha2-nistp256', offered: 'ecdsa-sha2-nistp256', how: 'generate' },
  { type: 'rsa', algorithm: 'ssh-rsa', offered: 'rsa-sha2-512,rsa-sha2-256', how: 'import' },
] as const;

describe('host key rotation without breaking pinned clients', () => {
  for (const c of cases) {
    test(`${c.type}: a key from ${c.how} is announced, not presented, until promoted; the old key serves until retired`, async () => {
      const [old] = (await listKeys()).filter((k) => k.algorithm === c.algorithm && k.state === 'active');
      assert.ok(old, `a first-start ${c.type} key`);
      assert.equal(old.presented, true);
      const pinnedOld = await pinnedTo(`old-${c.type}`, [old.id]);
      assertCleanLogin(await sftpLogin(pinnedOld, c.offered), 'before any change');

      let added: { code: number; stdout: string; stderr: string };
      if (c.how === 'import') {
        const file = join(work, `imported-${c.type}`);
        execFileSync('ssh-keygen', ['-q', '-t', c.type, '-b', '3072', '-N', '', '-m', 'PEM', '-f', file]);
        added = await ferry(['keys', 'host', 'import', file]);
      } else {
        added = await ferry(['keys', 'host', 'generate', '--type', c.type]);
      }
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /pending: announced to clients/);
      const newId = Number(added.stdout.match(/host key (\d+) (generated|imported)/)![1]);
      const fresh = (await listKeys()).find((k) => k.id === newId)!;
      assert.deepEqual([fresh.state, fresh.presented], ['pending', false]);
      // The server's 10 s poll may have been first; either way the store's keys are in use after this.
      await server.running.reloadHostKeys();

      // Pinned to the old key: no change seen, by sftp and by ssh.
      assertCleanLogin(await sftpLogin(pinnedOld, c.offered), 'sftp pinned to the old key, new key pending');
      assertCleanLogin(await sshLogin(pinnedOld, c.offered), 'ssh pinned to the old key, new key pending');
      assert.deepEqual(
        knownFingerprints(await readFile(pinnedOld, 'utf8')),
        [old.sha256],
        'UpdateHostKeys=no left it alone',
      );

      // Announced: a client with UpdateHostKeys learns the pending key (after it proved we hold it).
      const learning = await pinnedTo(`learning-${c.type}`, [old.id]);
      assertCleanLogin(await sftpLogin(learning, c.offered, 'yes'), 'UpdateHostKeys=yes');
      assert.deepEqual(
        knownFingerprints(await readFile(learning, 'utf8')),
        [old.sha256, fresh.sha256].sort(),
      );

      // Promoted: still the old key until it is retired.
      const promoted = await ferry(['keys', 'host', 'promote', String(newId)]);
      assert.equal(promoted.code, 0, promoted.stderr);
      assert.match(promoted.stdout, /presented until retired/);
      await server.running.reloadHostKeys();
      assertCleanLogin(await sftpLogin(pinnedOld, c.offered), 'pinned to the old key, new key promoted');

      const retired = await ferry(['keys', 'host', 'retire', String(old.id)]);
      assert.equal(retired.code, 0, retired.stderr);
      await server.running.reloadHostKeys();
      const listed = await listKeys();
      assert.deepEqual(
        [listed.find((k) => k.id === old.id)?.state, listed.find((k) => k.id === newId)?.presented],
        ['retired', true],
      );
      const pinnedNew = await pinnedTo(`new-${c.type}`, [newId]);
      assertCleanLogin(await sftpLogin(pinnedNew, c.offered), 'sftp pinned to the new key after the switch');
      assertCleanLogin(await sshLogin(pinnedNew, c.offered), 'ssh pinned to the new key after the switch');
      assertCleanLogin(await sftpLogin(learning, c.offered), 'the client that learned the key in advance');
      // And the control: the switch is real, a client that only knows the old key is refused.
      const stale = await sftpLogin(pinnedOld, c.offered);
      assert.notEqual(stale.code, 0);
      assert.match(stale.stderr, /IDENTIFICATION HAS CHANGED/);
    });
  }
});

describe('grace period', () => {
  let graced: TestServer;
  before(async () => {
    graced = await startTestServer({ config: { hostKeyGracePeriod: 1 } });
  });
  after(() => graced?.close());

  test('a pending key announced for longer than hostKeyGracePeriod is promoted on the next reload, audited', async () => {
    const keys = graced.running.context.hostKeys;
    const key = await keys.generate('ed25519');
    assert.equal(key.state, 'pending');
    await graced.running.reloadHostKeys();
    assert.equal(await graced.running.reloadHostKeys(), false, 'not due yet: nothing changes');
    assert.equal((await keys.list()).find((k) => k.id === key.id)?.state, 'pending');

    // Announced a day and a minute ago, as far as the store knows.
    const db = new SqliteDatabase(join(graced.dataDir, 'ferry.db'));
    db.prepare('UPDATE host_keys SET created_at = ? WHERE id = ?').run(
      new Date(Date.now() - 86_400_000 - 60_000).toISOString(),
      key.id,
    );
    db.close();
    await graced.running.reloadHostKeys();
    assert.equal((await keys.list()).find((k) => k.id === key.id)?.state, 'active');

    const records = await adminRecords(graced);
    const promoted = records.find((r) => detailOf(r).command === 'keys host promote (grace period)');
    assert.equal(promoted?.target, `host key ${key.id}`);
    assert.deepEqual(detailOf(promoted!).changes, { sha256: key.sha256, state: 'active', graceDays: 1 });
  });
});
