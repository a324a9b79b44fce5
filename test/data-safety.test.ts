// Data safety and start/stop as an operator meets them: wrong data dirs, a lost master key, a read-only backup,
// a taken port, a killed `npm start`, bad environment values and pipes closed early.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { alive } from './helpers/processes.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
let dir: string;
/** An initialised data dir shared by the tests that only read it. */
let dataDir: string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function ferry(args: string[], input = '', env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return runFerry(args, input, env);
}

/** One line on stderr, starting with `ferry:`, and no stack trace. */
function assertOneLine(r: Result, pattern: RegExp): void {
  assert.notEqual(r.code, 0, r.stdout);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^ferry: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-safety-'));
  dataDir = join(dir, 'data');
  const init = await ferry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /host key generated: .*ED25519/);
  assert.match(init.stdout, /created user 'admin'/);
  assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
});
after(() => rm(dir, { recursive: true, force: true }));

test('a wrong --data-dir is refused with one line naming it, and nothing is created', async () => {
  const missing = join(dir, 'no-such-data');
  for (const args of [
    ['users', 'list'],
    ['audit', 'verify'],
    ['users', 'add', 'alice', '--password-stdin'],
    ['keys', 'host', 'list'],
  ]) {
    const r = await ferry([...args, '--data-dir', missing], 'pw\n');
    assertOneLine(r, new RegExp(`data dir ${missing} does not exist.*ferry init`));
  }
  assert.equal(existsSync(missing), false);

  const deep = join(dir, 'nonexistent', 'deep', 'dir');
  assertOneLine(await ferry(['users', 'list', '--data-dir', deep]), /does not exist/);
  assert.equal(existsSync(join(dir, 'nonexistent')), false, 'no tree was created');

  // An existing directory without a store (a typo that hits some other directory) is not initialised either.
  const empty = join(dir, 'empty');
  await mkdir(empty);
  for (const args of [
    ['users', 'list'],
    ['audit', 'verify'],
    ['users', 'add', 'alice', '--password-stdin'],
  ]) {
    const r = await ferry([...args, '--data-dir', empty], 'pw\n');
    assertOneLine(r, new RegExp(`${empty} is not an initialised Ferry data dir`));
  }
  assert.deepEqual(await import('node:fs/promises').then((fs) => fs.readdir(empty)), []);
  // The same for FERRY_DATA_DIR.
  assertOneLine(await ferry(['users', 'list'], '', { FERRY_DATA_DIR: empty }), /not an initialised/);
});

test('ferry init creates one level only, and never over an existing store', async () => {
  const deep = join(dir, 'absent-parent', 'data');
  assertOneLine(await ferry(['init', '--data-dir', deep]), /its parent .*absent-parent does not exist/);
  assert.equal(existsSync(join(dir, 'absent-parent')), false);
  assertOneLine(await ferry(['init', '--data-dir', dataDir]), /already an initialised Ferry data dir/);
  // serve creates its data dir on first run, with the same one-level rule.
  assertOneLine(
    await ferry(['serve', '--data-dir', deep, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '1']),
    /its parent .*absent-parent does not exist/,
  );
});

test('a missing master key is an error naming what it seals, and no new key is generated over sealed data', async () => {
  const own = join(dir, 'lost-key');
  assert.equal((await ferry(['init', '--data-dir', own])).code, 0);
  const keyFile = join(own, 'master.key');
  const saved = await readFile(keyFile);
  await rm(keyFile);
  for (const args of [
    ['keys', 'client', 'generate', 'bank', '--type', 'ed25519'],
    ['keys', 'host', 'export', '1'],
    ['serve', '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '1'],
  ]) {
    const r = await ferry([...args, '--data-dir', own]);
    assertOneLine(
      r,
      /master key .*master\.key is missing.*3 host keys.*restore master\.key from your backup/,
    );
    assert.equal(existsSync(keyFile), false, `${args.join(' ')} generated a key`);
  }
  // Restoring the file is the fix.
  await writeFile(keyFile, saved, { mode: 0o600 });
  const r = await ferry(['keys', 'host', 'export', '1', '--data-dir', own]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /BEGIN OPENSSH PRIVATE KEY/);
});

test('read commands work on a read-only data dir (a mounted backup)', async (t) => {
  if (process.getuid?.() !== 0) {
    // Without root, a directory made read-only with chmod would do; with root, chmod stops nothing.
    t.skip('needs root for a read-only bind mount');
    return;
  }
  const mountPoint = join(dir, 'ro');
  await mkdir(mountPoint);
  try {
    execFileSync('mount', ['--bind', dataDir, mountPoint], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'remount,bind,ro', mountPoint], { stdio: 'pipe' });
  } catch (err) {
    t.skip(`cannot make a read-only bind mount here: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  try {
    await assert.rejects(writeFile(join(mountPoint, 'probe'), 'x'), /EROFS/);
    let r = await ferry(['users', 'list', '--data-dir', mountPoint]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^admin\s+enabled/m);
    r = await ferry(['audit', 'verify', '--data-dir', mountPoint]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /audit trail verified/);
    r = await ferry(['keys', 'host', 'list', '--data-dir', mountPoint]);
    assert.equal(r.code, 0, r.stderr);
    // A command that writes says why it cannot.
    assertOneLine(
      await ferry(['users', 'add', 'zed', '--password-stdin', '--data-dir', mountPoint], 'pw\n'),
      /read-only/,
    );
  } finally {
    execFileSync('umount', ['-l', mountPoint]);
  }
});

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

test('a taken port ends serve with one line and a non-zero exit, with one worker or several', async () => {
  const taken = await listenOnFreePort();
  const port = String((taken.address() as { port: number }).port);
  try {
    for (const workers of ['1', '2']) {
      const started = Date.now();
      const r = await ferry(
        ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', port, '--workers', workers],
        '',
        { FERRY_LOG_LEVEL: 'fatal' },
      );
      assertOneLine(r, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
      assert.equal(r.code, 1);
      assert.ok(Date.now() - started < 30_000);
    }
  } finally {
    taken.close();
  }
});

async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the server and its workers exit when the process that started them is killed (npm start)', async () => {
  // `sh` stands in for npm: it starts the server and is killed without passing a signal on.
  const shell: ChildProcess = spawn(
    'sh',
    [
      '-c',
      `"${process.execPath}" "${BIN}" serve --data-dir "${dataDir}" --listen 127.0.0.1 --sftp-port 0 --workers 2 & echo "pid $!"; wait`,
    ],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  shell.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  await waitFor('the server to listen', () => /SFTP listening on/.test(output), 60_000);
  const pid = Number(/pid (\d+)/.exec(output)?.[1]);
  const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)])
    .toString()
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  assert.ok(workers.length >= 2, `workers: ${workers.join(',')}`);
  shell.kill('SIGKILL');
  await waitFor('the primary and its workers to exit', () => !alive(pid) && !workers.some(alive));
});

test('a bad environment value is one line naming the variable, for every command', async () => {
  for (const args of [
    ['users', 'list', '--data-dir', dataDir],
    ['keys', 'host', 'list', '--data-dir', dataDir],
  ]) {
    const r = await ferry(args, '', { FERRY_LOG_LEVEL: 'loud' });
    assertOneLine(r, /logLevel: .*FERRY_LOG_LEVEL/);
    assert.equal(r.code, 2);
  }
  assertOneLine(
    await ferry(['users', 'list', '--data-dir', dataDir], '', { FERRY_MAX_AUTH_TRIES: 'many' }),
    /maxAuthTries: .*FERRY_MAX_AUTH_TRIES/,
  );
});

test('output piped into a reader that stops early ends the command quietly', async () => {
  const child = spawn(process.execPath, [BIN, 'users', 'list', '--data-dir', dataDir], {
    env: { ...process.env, FERRY_LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Like `| head -0`: the reader is gone before Ferry writes.
  child.stdout?.destroy();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('system errors are one line naming the file and the fix', async () => {
  const existing = join(dir, 'exists.key');
  await writeFile(existing, 'x');
  const add = await ferry(['users', 'add', 'ula', '--data-dir', dataDir]);
  assert.equal(add.code, 0, add.stderr);
  assertOneLine(
    await ferry(['users', 'keys', 'generate', 'ula', '--output', existing, '--data-dir', dataDir]),
    new RegExp(`${existing}: already exists; remove it or choose another name`),
  );
  const notADatabase = join(dir, 'garbage');
  await mkdir(notADatabase);
  await writeFile(
    join(notADatabase, 'ferry.db'),
    'this is not SQLite, just text long enough to fill a header...',
  );
  for (const args of [
    ['users', 'list'],
    ['users', 'add', 'x'],
  ]) {
    assertOneLine(
      await ferry([...args, '--data-dir', notADatabase]),
      new RegExp(`${join(notADatabase, 'ferry.db')} is not a Ferry store.*restore ferry\\.db from a backup`),
    );
  }
});
