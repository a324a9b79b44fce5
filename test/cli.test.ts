// The `ferry` command line as a user runs it: users management offline, serve start-up, help and bad config.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { makeClientKey, run, sftpBatch } from './helpers/openssh.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
let dir: string;
let dataDir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'));
  dataDir = join(dir, 'data');
  const init = await ferry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
});
after(() => rm(dir, { recursive: true, force: true }));

function ferry(
  args: string[],
  input = '',
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry(args, input, env);
}

test('users add, list, show, passwd, keys, disable and remove work offline against the data dir', async () => {
  const key = await makeClientKey(dir, 'ed25519');
  let r = await ferry(
    [
      'users',
      'add',
      'bob',
      '--password-stdin',
      '--public-key',
      key.publicPath,
      '--require',
      'publickey,password',
      '--perm',
      '/in=list,upload',
      '--data-dir',
      dataDir,
    ],
    'pa55word\n',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /user bob added/);
  assert.equal((await stat(join(dataDir, 'ferry.db'))).mode & 0o777, 0o600);

  r = await ferry(['users', 'add', 'bob', '--password-stdin', '--data-dir', dataDir], 'x\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists/);

  r = await ferry(['users', 'show', 'bob', '--json', '--data-dir', dataDir]);
  const bob = JSON.parse(r.stdout);
  assert.equal(bob.hasPassword, true);
  assert.deepEqual(bob.requiredMethods, ['publickey', 'password']);
  assert.deepEqual(bob.permissions, { '/': ['*'], '/in': ['list', 'upload'] });
  assert.equal(bob.publicKeys.length, 1);
  assert.ok(!JSON.stringify(bob).includes('argon2'), 'no password hash in the output');

  r = await ferry(['users', 'list', '--data-dir', dataDir]);
  assert.match(r.stdout, /^bob\s+enabled\s+1\s+set\s+publickey,password$/m);

  r = await ferry(['users', 'keys', 'remove', 'bob', key.publicPath, '--data-dir', dataDir]);
  assert.match(r.stdout, /removed SHA256:/);
  r = await ferry(['users', 'keys', 'add', 'bob', key.publicPath, '--data-dir', dataDir]);
  assert.match(r.stdout, /added SHA256:/);

  r = await ferry(['users', 'passwd', 'bob', '--password-stdin', '--data-dir', dataDir], 'new-password\n');
  assert.equal(r.code, 0, r.stderr);
  r = await ferry(['users', 'disable', 'bob', '--data-dir', dataDir]);
  assert.equal(r.code, 0);
  assert.equal(
    JSON.parse((await ferry(['users', 'list', '--json', '--data-dir', dataDir])).stdout).find(
      (u: { name: string }) => u.name === 'bob',
    ).disabled,
    true,
  );
  await ferry(['users', 'enable', 'bob', '--data-dir', dataDir]);

  r = await ferry(['users', 'add', '../evil', '--data-dir', dataDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid user name/);
  r = await ferry(['users', 'add', 'eve', '--perm', '/x=fly', '--data-dir', dataDir]);
  assert.match(r.stderr, /unknown permission 'fly'/);
  r = await ferry(['users', 'add', 'eve', '--require', 'publickey', '--data-dir', dataDir]);
  assert.match(r.stderr, /no key was given/);
  assert.equal(
    (await ferry(['users', 'show', 'eve', '--data-dir', dataDir])).code,
    1,
    'refused adds changed nothing',
  );

  r = await ferry(['users', 'remove', 'bob', '--data-dir', dataDir]);
  assert.equal(r.code, 0);
  r = await ferry(['users', 'show', 'bob', '--data-dir', dataDir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no user named bob/);
});

test('--help is there for ferry and each command', async () => {
  for (const args of [
    ['--help'],
    ['serve', '--help'],
    ['users', '--help'],
    ['users', 'add', '--help'],
    ['users', 'keys', '--help'],
  ]) {
    const r = await ferry(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /Usage: ferry/);
  }
  assert.match((await ferry(['serve', '--help'])).stdout, /FERRY_SFTP_PORT/);
  const bad = await ferry(['frobnicate']);
  assert.equal(bad.code, 2);
});

test('a command that outlives the test timeout is killed and fails with a message naming it', async () => {
  // serve never exits on its own: it stands in for a hung command.
  const hung = join(dir, 'hung');
  const started = Date.now();
  await assert.rejects(
    runFerry(
      ['serve', '--data-dir', hung, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '1'],
      '',
      {},
      { timeoutMs: 3000 },
    ),
    /ferry serve --data-dir .* did not finish within 3 s and was killed/,
  );
  assert.ok(Date.now() - started < 30_000, 'the timeout, not the command, ended the wait');
});

test('a bad config value stops serve with a message naming the key', async () => {
  let r = await ferry(['serve', '--data-dir', join(dir, 'bad'), '--sftp-port', 'abc']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /sftpPort/);
  r = await ferry(['serve', '--data-dir', join(dir, 'bad')], '', { FERRY_MAX_AUTH_TRIES: '0' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /maxAuthTries.*FERRY_MAX_AUTH_TRIES/);
  const file = join(dir, 'bad.json');
  await writeFile(file, JSON.stringify({ listen: '127.0.0.1', algorithm: 'modern' }));
  r = await ferry(['serve', '--data-dir', join(dir, 'bad'), '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /algorithm/);
  await assert.rejects(stat(join(dir, 'bad', 'ferry.db')), 'nothing was created');
});

interface Served {
  child: ChildProcess;
  output: string;
  /** Everything printed so far, stdout and stderr (the JSON log). */
  all(): string;
  port: number;
}

function startServe(serveDir: string, extra: string[] = [], logLevel = 'warn'): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--data-dir', serveDir, '--listen', '127.0.0.1', '--sftp-port', '0', ...extra],
      {
        env: { ...process.env, FERRY_LOG_LEVEL: logLevel },
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = output.match(/SFTP listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve({ child, output, port: Number(m[1]), all: () => output });
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${output}`)));
  });
}

function stopServe(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

test('serve generates host keys and an admin once, prints fingerprints, reuses them, and stops on SIGTERM', async () => {
  const serveDir = join(dir, 'serve');
  const first = await startServe(serveDir);
  const printed = [...first.output.matchAll(/host key generated: (\d+) (SHA256:\S+) \((\w+)\)/g)].map(
    (m) => m[2],
  );
  assert.equal(printed.length, 3, first.output);
  const password = first.output.match(/one-time password: (\S+)/)?.[1];
  assert.ok(password, first.output);
  // Private host keys live sealed in ferry.db; it and the master key that seals them are private files.
  for (const f of ['ferry.db', 'master.key']) {
    assert.equal((await stat(join(serveDir, f))).mode & 0o777, 0o600, f);
  }
  const scan = await run('ssh-keyscan', ['-p', String(first.port), '127.0.0.1']);
  const scanned = execFileSync('ssh-keygen', ['-lf', '-'], { input: scan.stdout })
    .toString()
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]);
  assert.deepEqual(
    scanned.sort(),
    [printed[0], printed[2]].sort(),
    'ssh-keyscan sees the printed ed25519 and rsa fingerprints',
  );
  const login = await sftpBatch({ port: first.port, user: 'admin', password, batch: 'pwd\n' });
  assert.equal(login.code, 0, login.stderr);
  // The key exchanges on offer, the post-quantum hybrid first, printed after the listening line.
  assert.match(
    first.all(),
    /^key exchange: mlkem768x25519-sha256 \(post-quantum, ML-KEM-768 from (node:crypto|@noble\/post-quantum)\), curve25519-sha256, /m,
  );
  assert.equal(await stopServe(first.child), 0);

  const second = await startServe(serveDir);
  assert.deepEqual(
    [...second.output.matchAll(/host key loaded: \d+ (SHA256:\S+)/g)].map((m) => m[1]),
    printed,
  );
  assert.doesNotMatch(second.output, /one-time password/);
  const again = await sftpBatch({ port: second.port, user: 'admin', password, batch: 'pwd\n' });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(await stopServe(second.child), 0);
});

test('serve --workers 2 shares the port between two processes and stops them all', async () => {
  const serveDir = join(dir, 'workers');
  const served = await startServe(serveDir, ['--workers', '2'], 'info');
  assert.match(served.output, /2 worker processes/);
  const password = served.output.match(/one-time password: (\S+)/)?.[1];
  for (let i = 0; i < 6; i++) {
    const r = await sftpBatch({ port: served.port, user: 'admin', password, batch: 'pwd\n' });
    assert.equal(r.code, 0, r.stderr);
  }
  assert.match(served.all(), /^key exchange: mlkem768x25519-sha256 \(post-quantum/m);
  const pids = new Set(
    served
      .all()
      .split('\n')
      .filter((l) => l.includes('"msg":"authenticated"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid),
  );
  // Read while the workers run, asserted once they are stopped (a failed assertion must not leave them running).
  const workerArgv = [...pids].map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
  // The primary only forks and supervises: the first-run work ran in a short-lived process, so the primary
  // never loaded the store (SQLite) or the SSH stack, whose native modules would show in its memory map.
  const primaryMaps = readFileSync(`/proc/${served.child.pid}/maps`, 'utf8');
  const workerMaps = readFileSync(`/proc/${[...pids][0]}/maps`, 'utf8');
  assert.equal(await stopServe(served.child), 0);
  assert.match(workerMaps, /better_sqlite3\.node/, 'a worker maps SQLite (the check can see it)');
  assert.doesNotMatch(primaryMaps, /better_sqlite3\.node|sshcrypto\.node|confine\.node/);
  assert.equal(pids.size, 2, 'sessions were served by both workers');
  for (const argv of workerArgv) {
    // The old-generation floor that keeps V8 from collecting a transferring worker back to back.
    assert.ok(argv.includes('--initial-old-space-size=256'), `worker flags: ${argv.join(' ')}`);
    // The young-generation cap that keeps an idle worker from holding 16 MB semi-spaces grown at start-up.
    assert.ok(argv.includes('--max-semi-space-size=4'), `worker flags: ${argv.join(' ')}`);
  }
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'worker gone');
});
