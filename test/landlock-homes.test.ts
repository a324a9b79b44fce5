// Homes outside the data dir under Landlock: one that does not exist yet when the server starts is made then
// (0700), so its user's first login works, as are a virtual folder's and a pull job's directories; one that
// cannot be made is named in a start-up line. One added while the server runs: the workers are replaced by ones
// that reach it, open sessions going on; a single process says it needs a restart.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { serveFerry } from './helpers/ferry-serve.js';
import { commonSshOptions, sftpBatch } from './helpers/openssh.js';

const PASSWORD = 'Far-away-h0me';
const children: ChildProcess[] = [];
let work: string | undefined;
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  if (work) await rm(work, { recursive: true, force: true });
});

test('a home outside the data dir that is missing at start is made, and its user logs in and uploads', async (t) => {
  work = await mkdtemp(join(tmpdir(), 'ferry-landlock-homes-'));
  const dataDir = join(work, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const home = join(work, 'elsewhere', 'homes', 'far');
  // A regular file where a folder of the other home should be: that home cannot be made.
  await writeFile(join(work, 'a-file'), 'not a directory');
  const blocked = join(work, 'a-file', 'blocked');
  for (const [name, dir] of [
    ['far', home],
    ['blocked', blocked],
  ] as const) {
    await addUser(dataDir, name, dir);
  }
  // A pull job makes its local directory at its first run: that too is made at start, and gets a rule.
  const partner = await runFerry(
    [
      ...['partners', 'add', 'acme', '--host', '127.0.0.1', '--port', '22', '--user', 'x'],
      ...['--password-stdin', '--data-dir', dataDir],
    ],
    'secret\n',
  );
  assert.equal(partner.code, 0, partner.stderr);
  const inbox = join(work, 'elsewhere', 'inbox');
  const job = await runFerry([
    ...['jobs', 'add', 'pull-in', '--partner', 'acme', '--direction', 'pull', '--remote-dir', '/'],
    ...['--local-dir', inbox, '--data-dir', dataDir],
  ]);
  assert.equal(job.code, 0, job.stderr);
  const shared = join(work, 'elsewhere', 'shared');
  const folder = await runFerry(['folders', 'add', 'shared', '--path', shared, '--data-dir', dataDir]);
  assert.equal(folder.code, 0, folder.stderr);
  await assert.rejects(stat(home), 'nothing made before the server starts');
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    // A 1 s drain: a worker replaced by a renewal must not be held to it (its sessions go on past it).
    ['--http-listen', '127.0.0.1:0', '--workers', '2', '--drain-timeout', '1'],
    // In any order: the primary prints its workers' hardening lines before or after its listener's.
    /^(?=[\s\S]*SFTP listening on 127\.0\.0\.1:(\d+))(?=[\s\S]*^(landlock: (?:active|not available|off)[^\n]*)$)(?=[\s\S]*^landlock: home (\S+) could not be made \((\w+)\): (.*)$)(?=[\s\S]*HTTP API listening on http:\/\/127\.0\.0\.1:(\d+)\/)/m,
    { env: { FERRY_LANDLOCK_POLL_MS: '200' } },
  );
  // The directories are made whether or not this kernel has Landlock; the rules only where it has.
  const active = /^landlock: active \(.*read-write: (.*)\)$/.exec(match[2]!);
  if (active)
    assert.deepEqual(
      active[1]!.split(', ').sort(),
      [dataDir, home, inbox, shared].sort(),
      'a rule for each that exists',
    );
  else t.diagnostic(`no Landlock here (${match[2]}): its rules and the late user's refusal are not checked`);
  assert.equal((await stat(inbox)).mode & 0o777, 0o700);
  assert.equal((await stat(shared)).mode & 0o777, 0o700);
  assert.equal(match[3], blocked);
  assert.equal(match[4], 'ENOTDIR');
  assert.match(match[5]!, /its user cannot log in until it exists and the server restarts/);
  assert.equal((await stat(home)).mode & 0o777, 0o700);

  await writeFile(join(work, 'note.txt'), 'hello from far away');
  const port = Number(match[1]);
  const put = await sftpBatch({
    port,
    user: 'far',
    password: PASSWORD,
    batch: 'put note.txt\nls\n',
    cwd: work,
  });
  assert.equal(put.code, 0, put.stderr);
  assert.equal((await stat(join(home, 'note.txt'))).size, 'hello from far away'.length);

  if (!active) return;
  // Added while the server runs, with a home outside the data dir, while a session of another user is open: the
  // primary replaces its workers with ones whose rules reach the new home; the open session goes on.
  const held = holdSftp(port, 'far', work);
  held.command('put note.txt held-1.txt');
  await until(() => exists(join(home, 'held-1.txt')), 'the held session uploads before the change');
  const lateHome = join(work, 'elsewhere', 'homes', 'late');
  await addUser(dataDir, 'late', lateHome);
  let late = { code: null as number | null, stderr: '' };
  await until(async () => {
    late = await sftpBatch({ port, user: 'late', password: PASSWORD, batch: 'put note.txt\n', cwd: work });
    return late.code === 0;
  }, 'the late user logs in once the workers are replaced');
  assert.equal((await stat(join(lateHome, 'note.txt'))).size, 'hello from far away'.length);
  assert.equal((await stat(lateHome)).mode & 0o777, 0o700, 'made by the new workers, before Landlock');
  // A login may land on the first new worker before the second is replaced.
  await until(
    () => count(serving.stderr(), 'worker replaced: the old one ends once its open connections have') === 2,
    'both workers replaced',
  );
  const log = serving.stderr();
  assert.equal(count(log, 'replacing each worker with one that reaches them'), 1, log);
  // While the held session keeps its old worker draining, the HTTP API is the new workers' alone: the old one
  // closed its listener at once, so no new connection meets its draining /readyz (a balancer would take the node
  // out of rotation for the whole drain). Each request on a connection of its own: the primary deals connections.
  await new Promise((r) => setTimeout(r, 500));
  const ready = await Promise.all(Array.from({ length: 24 }, () => readyz(Number(match[6]))));
  assert.deepEqual(
    ready.filter((status) => status !== 200),
    [],
    'every /readyz during the renewal says ready',
  );
  // The session opened before the change is still served by its (old) worker, past the 1 s drainTimeout (a
  // renewal is not a shutdown: nothing waits for the old worker to go), and that worker ends after it.
  await new Promise((r) => setTimeout(r, 1500));
  held.command('put note.txt held-2.txt');
  assert.equal(await held.end(), 0);
  assert.equal((await stat(join(home, 'held-2.txt'))).size, 'hello from far away'.length);
  await until(
    () =>
      count(serving.stderr(), '"msg":"server stopping"') === 2 &&
      count(
        serving.stderr(),
        '"reason":"replaced by a worker that reaches directories added since the start"',
      ) === 2,
    () => `both old workers stop: ${serving.stderr()}`,
  );
  await until(async () => (await childPids(serving.child.pid!)).length === 2, 'two workers are left');
  // Each old worker recorded its sessions' ends before it closed its audit trail.
  assert.doesNotMatch(serving.stderr(), /AuditClosedError|event listener failed/);

  // The service stopping while a replaced worker still drains (no deadline of its own): it gets drainTimeout from
  // the SIGTERM, like every worker, and the server exits instead of waiting for that session forever.
  const held3 = holdSftp(port, 'far', work);
  held3.command('put note.txt held-3.txt');
  await until(() => exists(join(home, 'held-3.txt')), 'a session open before the second renewal');
  const laterHome = join(work, 'elsewhere', 'homes', 'later');
  await addUser(dataDir, 'later', laterHome);
  await until(
    () => count(serving.stderr(), 'worker replaced: the old one ends once its open connections have') === 4,
    'the workers are replaced again',
  );
  const stopped = await Promise.race([
    serving.stop().then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 15_000)),
  ]);
  assert.ok(stopped, 'the server stops within 15 s of SIGTERM with a replaced worker draining');
  await held3.end();
});

test('a single serving process names a home added out of its reach and the restart it needs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-landlock-single-'));
  try {
    const dataDir = join(dir, 'data');
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    const { serving, match } = await serveFerry(
      dataDir,
      children,
      ['--workers', '1'],
      /^(?=[\s\S]*SFTP listening on 127\.0\.0\.1:(\d+))(?=[\s\S]*^(landlock: [^\n]*)$)/m,
      { env: { FERRY_LANDLOCK_POLL_MS: '200' } },
    );
    if (!match[2]!.startsWith('landlock: active')) {
      t.skip(`no Landlock here (${match[2]})`);
      return;
    }
    const lateHome = join(dir, 'elsewhere', 'late');
    await addUser(dataDir, 'late', lateHome);
    await until(
      () => serving.stderr().includes("out of this process's reach until the server restarts"),
      'the process says what it cannot reach',
    );
    const line = serving
      .stderr()
      .split('\n')
      .find((l) => l.includes("out of this process's reach"));
    assert.deepEqual(JSON.parse(line!).paths, [lateHome]);
    const late = await sftpBatch({
      port: Number(match[1]),
      user: 'late',
      password: PASSWORD,
      batch: 'ls\n',
      cwd: dir,
    });
    assert.notEqual(late.code, 0, 'refused until a restart');
    await serving.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** `ferry users add NAME --home HOME` with the test's password, which must succeed. */
async function addUser(dataDir: string, name: string, home: string): Promise<void> {
  const added = await runFerry(
    ['users', 'add', name, '--password-stdin', '--home', home, '--data-dir', dataDir],
    `${PASSWORD}\n`,
  );
  assert.equal(added.code, 0, added.stderr);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Polls `check` every 100 ms for up to 30 s. */
async function until(check: () => boolean | Promise<boolean>, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET /readyz on a new connection; its status code. */
function readyz(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    }).once('error', reject);
  });
}

/** The processes whose parent is `pid` (a primary's workers). */
async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    if (new RegExp(`^PPid:\\s+${pid}$`, 'm').test(status)) out.push(Number(entry));
  }
  return out;
}

/** An OpenSSH `sftp -b -` session kept open: each command is sent when given, `end` closes it. */
function holdSftp(port: number, user: string, cwd: string) {
  const args = [
    ...commonSshOptions({ port, user, password: PASSWORD }),
    '-P',
    String(port),
    '-b',
    '-',
    `${user}@127.0.0.1`,
  ];
  const child = spawn('sshpass', ['-e', 'sftp', ...args], {
    cwd,
    env: { ...process.env, SSHPASS: PASSWORD },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    command: (line: string) => child.stdin.write(`${line}\n`),
    end: () => {
      child.stdin.end();
      return exited;
    },
  };
}

test('a serving process that cannot harden itself exits with one line, with one worker or two (it never serves)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-harden-fail-'));
  try {
    const dataDir = join(dir, 'data');
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    for (const workers of ['1', '2']) {
      // Dropping root to a user that does not exist is part of hardening, after the listeners are bound: the
      // process used to go on serving as root (one worker), or the primary waited for its workers forever (two).
      const r = await runFerry([
        ...['serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0'],
        ...['--http-listen', '127.0.0.1:0', '--workers', workers, '--user', 'no-such-user-here'],
      ]);
      assert.notEqual(r.code, 0, `--workers ${workers}: ${r.stdout}`);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('ferry: '));
      assert.ok(lines.length >= 1, r.stderr);
      assert.ok(
        lines.every((l) => l === 'ferry: --user no-such-user-here: no such user in /etc/passwd'),
        r.stderr,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
