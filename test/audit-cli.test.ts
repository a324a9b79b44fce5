// `ferry audit` as an operator uses it: admin changes recorded, query/tail/export/verify/prune, and two writer processes.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { AuditWriter } from '../src/audit/writer.js';
import { rootLogger } from '../src/logger.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runFerry } from './helpers/cli.js';
import { makeClientKey } from './helpers/openssh.js';

let dir: string;
let dataDir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-audit-cli-'));
  dataDir = join(dir, 'data');
  // An initialised store without `ferry init`'s first-start records, so the sequence numbers below are the
  // test's own (init's host keys and admin account are audited; test/keys.test.ts covers those records).
  await mkdir(dataDir, { mode: 0o700 });
  await (await openSqliteStore(join(dataDir, 'ferry.db'))).close();
});
after(() => rm(dir, { recursive: true, force: true }));

function ferry(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', dataDir], input);
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { detail: Record<string, unknown> });

test('user administration is recorded with the OS user who ran it, what changed, and never a secret', async () => {
  const key = await makeClientKey(dir, 'ed25519');
  assert.equal(
    (await ferry(['users', 'add', 'bob', '--password-stdin', '--perm', '/in=list,upload'], 'S3cret-pa55\n'))
      .code,
    0,
  );
  // Two commands at once: each waits for the other's write (neither fails with "database is locked").
  for (const r of await Promise.all([
    ferry(['users', 'keys', 'add', 'bob', key.publicPath]),
    ferry(['users', 'passwd', 'bob', '--password-stdin'], 'N3w-s3cret\n'),
  ]))
    assert.equal(r.code, 0, r.stderr);
  assert.equal((await ferry(['users', 'set', 'bob', '--perm', '/out=download'])).code, 0);
  assert.equal((await ferry(['users', 'disable', 'bob'])).code, 0);

  const r = await ferry(['audit', 'query', '--action', 'admin', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!/S3cret|N3w-s3cret|argon2/.test(r.stdout), 'no password or hash in the trail');
  const records = jsonLines(r.stdout);
  assert.deepEqual(records.map((x) => x.detail.command).sort(), [
    'users add',
    'users disable',
    'users keys add',
    'users passwd',
    'users set',
  ]);
  for (const x of records) {
    assert.equal(x.user, userInfo().username);
    assert.equal(x.target, 'bob');
    assert.equal(x.protocol, 'cli');
  }
  const byCommand = (c: string) =>
    records.find((x) => x.detail.command === c)!.detail.changes as Record<string, unknown>;
  assert.deepEqual(byCommand('users add').password, 'set');
  assert.deepEqual(byCommand('users add').permissions, { '/': ['*'], '/in': ['list', 'upload'] });
  assert.deepEqual(byCommand('users passwd'), { password: 'changed' });
  assert.match(String((byCommand('users keys add').added as string[])[0]), /^SHA256:/);
  assert.deepEqual((byCommand('users set').permissions as { to: unknown }).to, {
    '/': ['*'],
    '/in': ['list', 'upload'],
    '/out': ['download'],
  });
  assert.deepEqual(byCommand('users disable'), { disabled: true });

  const tail = await ferry(['audit', 'tail', '-n', '1']);
  assert.match(
    tail.stdout,
    /^#5 {2}\S+Z {2}admin +\S+ {2}bob {2}ok {2}changes=\{"disabled":true\} command=users disable\n$/,
  );
  const csv = await ferry(['audit', 'query', '--user', userInfo().username, '--csv']);
  assert.equal(
    csv.stdout.split('\n')[0],
    'seq,at,action,user,sessionId,address,protocol,path,target,result,reason,detail,prevHash,hash,node',
  );
  assert.equal(csv.stdout.trim().split('\n').length, 6);
  assert.equal((await ferry(['audit', 'query', '--action', 'bogus'])).code, 2);
});

test('verify and export: a JSONL export verifies offline, a tampered export or store fails with the seq', async () => {
  let r = await ferry(['audit', 'verify']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /^audit trail verified: 5 record\(s\), seq 1\.\.5 from the first record ever written$/m,
  );

  const file = join(dir, 'export.jsonl');
  r = await ferry(['audit', 'export', '--format', 'jsonl', '--since', '1h', '--output', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  r = await ferry(['audit', 'verify', '--file', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /5 record\(s\), seq 1\.\.5/);

  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('"command":"users disable"', '"command":"users enable"'));
  r = await ferry(['audit', 'verify', '--file', file]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^audit trail BROKEN at seq 5: content does not match its hash/m);

  const db = new SqliteDatabase(join(dataDir, 'ferry.db'));
  const original = db.prepare('SELECT target FROM audit_log WHERE seq = 3').get() as { target: string };
  db.prepare("UPDATE audit_log SET target = 'eve' WHERE seq = 3").run();
  r = await ferry(['audit', 'verify']);
  db.prepare('UPDATE audit_log SET target = ? WHERE seq = 3').run(original.target);
  db.close();
  assert.equal(r.code, 1);
  assert.match(r.stdout, /BROKEN at seq 3: content does not match its hash/);
  assert.match(r.stdout, /2 record\(s\) before it verified/);
  assert.equal((await ferry(['audit', 'verify'])).code, 0, 'restoring the byte restores the chain');
});

test('prune with nothing old enough changes nothing; with retention off it asks for --days', async () => {
  let r = await ferry(['audit', 'prune']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /retention is off/);
  r = await ferry(['audit', 'prune', '--days', '30']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nothing older than /);
});

test('a CLI process recording admin changes while another process writes never forks the chain', async () => {
  const store = await openSqliteStore(join(dataDir, 'ferry.db'));
  const writer = new AuditWriter({
    repository: store.audit,
    log: rootLogger.child({ logger: 'audit-test' }, { level: 'silent' }),
    checkpointEveryMs: 0,
    checkpointEveryRecords: 0,
  });
  let stop = false;
  let written = 0;
  const server = (async () => {
    while (!stop) {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          writer.append({ action: 'mkdir', path: `/d${written + i}`, result: 'ok' }),
        ),
      );
      written += 20;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    const results = await Promise.all(['u1', 'u2', 'u3'].map((u) => ferry(['users', 'add', u])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
  } finally {
    stop = true;
    await server;
    await writer.close();
    await store.close();
  }
  assert.ok(written >= 100, `the in-process writer kept writing (${written})`);
  // This data dir has no host key, so nothing signs checkpoints; the chain's links are what is checked here.
  const r = await ferry(['audit', 'verify', '--checkpoint-interval', '0']);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, new RegExp(`verified: ${5 + written + 3} record`));
  const adds = jsonLines(
    (await ferry(['audit', 'query', '--action', 'admin', '--since', '1h', '--json'])).stdout,
  ).filter((x) => x.detail.command === 'users add');
  assert.deepEqual(adds.map((x) => x.target).sort(), ['bob', 'u1', 'u2', 'u3']);
});
