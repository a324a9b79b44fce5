// Login rules as users meet them: --home is checked the same way by add and set, a session that cannot start
// says why in the log, `ferry sftp` asks for the one-time code, and turning TOTP off restores the old rule.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { generate } from 'otplib';
import { connectSftp, type KeyboardPrompt } from '../src/transfers/connection.js';
import { Secret } from '../src/util/secret.js';
import { runFerry } from './helpers/cli.js';
import { makeClientKey } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-login-rules-'));
});
after(() => rm(work, { recursive: true, force: true }));

function ferry(
  dataDir: string,
  args: string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', dataDir], input);
}

test('users add and users set refuse a relative --home alike', async () => {
  const dataDir = join(work, 'home-check');
  assert.equal((await ferry(dataDir, ['init'])).code, 0);
  const add = await ferry(
    dataDir,
    ['users', 'add', 'rel', '--password-stdin', '--home', 'homes/rel'],
    'pw\n',
  );
  assert.equal(add.code, 2, add.stderr);
  assert.match(add.stderr, /^ferry: --home must be an absolute path, not 'homes\/rel'\n$/);
  assert.equal((await ferry(dataDir, ['users', 'add', 'rel', '--password-stdin'], 'pw\n')).code, 0);
  const set = await ferry(dataDir, ['users', 'set', 'rel', '--home', 'homes/rel']);
  assert.equal(set.code, 2, set.stderr);
  assert.match(set.stderr, /^ferry: --home must be an absolute path, not 'homes\/rel'\n$/);
  const shown = JSON.parse((await ferry(dataDir, ['users', 'show', 'rel', '--json'])).stdout);
  assert.equal(shown.home, join(dataDir, 'homes', 'rel'), 'the home did not change');
});

test('a session that cannot start is refused with a log line saying why', async () => {
  const dataDir = join(work, 'bad-home');
  assert.equal((await ferry(dataDir, ['init'])).code, 0);
  assert.equal((await ferry(dataDir, ['users', 'add', 'rita', '--password-stdin'], 'rita-pw\n')).code, 0);
  // A relative home stored before --home was checked everywhere.
  const db = new SqliteDatabase(join(dataDir, 'ferry.db'));
  db.prepare("UPDATE users SET home_dir = 'relative/rita' WHERE name = 'rita'").run();
  db.close();
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '1'],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'info' } },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
    });
    await assert.rejects(
      connectSftp({
        host: '127.0.0.1',
        port,
        username: 'rita',
        password: new Secret('rita-pw'),
        hostKey: () => true,
      }),
    );
    const deadline = Date.now() + 5000;
    while (!/sftp session could not start/.test(log) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const line = log.split('\n').find((l) => l.includes('sftp session could not start'));
    assert.ok(line, log);
    assert.match(line, /"user":"rita"/);
    assert.match(line, /directory must be absolute: relative\/rita/);
  } finally {
    child.kill('SIGTERM');
  }
});

let server: TestServer;

test('ferry sftp asks for the one-time code (never sends the password for it), and totp disable restores key OR password', async () => {
  server = await startTestServer();
  try {
    const key = await makeClientKey(work, 'ed25519', 'tom_key');
    await server.addUser('tom', { password: 'tom-pw', publicKeys: [key.publicText] });
    const privateKey = new Secret(await readFile(key.privatePath, 'utf8'));
    const login = (o: {
      password?: string;
      withKey?: boolean;
      answer?: (prompts: readonly KeyboardPrompt[]) => Promise<string[]>;
    }) =>
      connectSftp({
        host: '127.0.0.1',
        port: server.port,
        username: 'tom',
        ...(o.password ? { password: new Secret(o.password) } : {}),
        ...(o.withKey ? { privateKey } : {}),
        ...(o.answer ? { answerPrompts: o.answer } : {}),
        hostKey: () => true,
      }).then((c) => c.close());

    const enabled = await ferry(server.dataDir, ['users', 'totp', 'enable', 'tom']);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, /Login now needs: password \+ keyboard-interactive/);
    const secret = enabled.stdout.match(/otpauth:\/\/totp\/[^\s]*secret=([A-Z2-7]+)/)?.[1];
    assert.ok(secret);

    // Nobody to ask for the code: the login fails rather than sending the password as the code.
    await assert.rejects(login({ password: 'tom-pw' }));
    const asked: string[] = [];
    await login({
      password: 'tom-pw',
      answer: async (prompts) => {
        asked.push(...prompts.map((p) => p.prompt));
        return [await generate({ secret })];
      },
    });
    assert.deepEqual(asked, ['One-time code: ']);

    const disabled = await ferry(server.dataDir, ['users', 'totp', 'disable', 'tom']);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(disabled.stdout, /login needs: password or public key/);
    const shown = JSON.parse((await ferry(server.dataDir, ['users', 'show', 'tom', '--json'])).stdout);
    assert.deepEqual(shown.requiredMethods, [], 'the rule from before TOTP, not password-only');
    await login({ withKey: true });
    await login({ password: 'tom-pw' });
  } finally {
    await server.close();
  }
});
