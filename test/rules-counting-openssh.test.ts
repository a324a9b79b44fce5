// "Alert on 5 failed logins for one user": real OpenSSH wrong-password logins against `ferry serve --workers 2`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { sshRun } from './helpers/openssh.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

let work: string;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-rules-counting-'));
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await rm(work, { recursive: true, force: true });
});

interface Serving {
  readonly child: ChildProcess;
  readonly port: number;
  /** The server's log lines (JSON) so far. */
  readonly log: () => string;
}

/**
 * `ferry serve --workers 2` as a child process, its log at info on stderr; resolves once it listens. The
 * defender is off: it would ban 127.0.0.1 for the failures this test makes on purpose.
 */
function serve(dataDir: string): Promise<Serving> {
  const child = spawn(
    process.execPath,
    [
      FERRY_BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1',
      '--sftp-port',
      '0',
      '--workers',
      '2',
    ],
    {
      env: { ...process.env, FERRY_LOG_LEVEL: 'info', FERRY_DEFENDER_ENABLED: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}${err}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), log: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}):\n${out}${err}`));
    });
  });
}

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('5 wrong passwords for one user fire the rule once, not at 4; 5 more fire it again; another user counts apart', async () => {
  const dataDir = join(work, 'data');
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const receiver: WebhookReceiver = await startWebhookReceiver(secret);
  cleanups.push(() => receiver.close());
  const ferry = async (args: string[], input = '') => {
    const r = await runFerry([...args, '--data-dir', dataDir], input);
    assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await ferry(['init']);
  await ferry(['users', 'add', 'alice', '--password-stdin'], 'Alice-pa55word-1\n');
  await ferry(['users', 'add', 'bob', '--password-stdin'], 'Bob-pa55word-1\n');
  await ferry(
    [
      ...['rules', 'add', 'brute-force', '--on', 'login-failed', '--count', '5', '--within', '10m'],
      ...['--action', 'webhook', '--url', receiver.url, '--secret-stdin'],
    ],
    secret,
  );
  const server = await serve(dataDir);

  // What the store has counted so far for a user, read as another process would (the counters are shared).
  const db = new SqliteDatabase(join(dataDir, 'ferry.db'), { readonly: true });
  cleanups.push(async () => {
    db.close();
  });
  const counted = (user: string): number => {
    const row = db.prepare('SELECT hits FROM rule_counters WHERE key = ?').get(`user:${user}`) as
      | { hits: string }
      | undefined;
    return row ? (JSON.parse(row.hits) as number[]).length : 0;
  };
  const deliveries = () => (db.prepare('SELECT count(*) AS n FROM deliveries').get() as { n: number }).n;
  const wrongPassword = async (user: string) => {
    const r = await sshRun({ port: server.port, user, password: 'not-the-password', command: ['true'] });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
  };

  for (let i = 1; i <= 4; i++) {
    await wrongPassword('alice');
    await until(`alice's failure ${i} is counted`, () => counted('alice') === i);
  }
  for (let i = 1; i <= 4; i++) {
    await wrongPassword('bob');
    await until(`bob's failure ${i} is counted`, () => counted('bob') === i);
  }
  assert.equal(counted('alice'), 4, "bob's failures do not count toward alice");
  assert.equal(deliveries(), 0, 'four failures each fire nothing');
  assert.equal(receiver.received.length, 0);

  await wrongPassword('alice');
  await until('the fifth failure is delivered', () => receiver.received.length === 1);
  const first = receiver.received[0];
  assert.equal(first?.verified, true);
  assert.equal(first?.body.type, 'login-failed');
  const data = first?.body.data ?? {};
  assert.deepEqual(
    [data.user, data.count, data.within, data.key, data.remoteAddress],
    ['alice', '5', '10m', 'alice', '127.0.0.1'],
  );
  assert.ok(data.since && data.at && data.since < data.at, `${data.since} before ${data.at}`);
  assert.equal(counted('alice'), 0, 'the firing cleared the count');

  for (let i = 1; i <= 4; i++) {
    await wrongPassword('alice');
    await until(`alice's failure ${5 + i} is counted`, () => counted('alice') === i);
  }
  assert.equal(deliveries(), 1, 'failures 6 to 9 fire nothing');
  await wrongPassword('alice');
  await until('the tenth failure is delivered', () => receiver.received.length === 2);
  assert.equal(deliveries(), 2);
  assert.equal(counted('bob'), 4, 'bob is still one short');
  assert.deepEqual(
    receiver.received.map((r) => [r.body.data.user, r.body.data.count]),
    [
      ['alice', '5'],
      ['alice', '5'],
    ],
  );
  assert.notEqual(receiver.received[0]?.id, receiver.received[1]?.id);

  // The failures were judged by both worker processes, yet counted as one.
  const pids = new Set(
    server
      .log()
      .split('\n')
      .filter((l) => l.includes('"authentication failed"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid),
  );
  assert.equal(pids.size, 2, `failures seen by processes ${[...pids].join(', ')}`);
});
