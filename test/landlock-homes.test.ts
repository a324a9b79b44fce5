// Homes outside the data dir under Landlock: one that does not exist yet when the server starts is made then
// (0700), so its user's first login works, as are a virtual folder's and a pull job's directories; one that
// cannot be made is named in a start-up line.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';

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
    const added = await runFerry(
      ['users', 'add', name, '--password-stdin', '--home', dir, '--data-dir', dataDir],
      `${PASSWORD}\n`,
    );
    assert.equal(added.code, 0, added.stderr);
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
    ['--http-listen', '127.0.0.1:0'],
    // In any order: the primary prints its workers' hardening lines before or after its listener's.
    /^(?=[\s\S]*SFTP listening on 127\.0\.0\.1:(\d+))(?=[\s\S]*^(landlock: (?:active|not available|off)[^\n]*)$)(?=[\s\S]*^landlock: home (\S+) could not be made \((\w+)\): (.*)$)/m,
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

  // Added while the server runs, with a home outside the data dir: refused until a restart (documented), and the
  // server says why rather than leaving the client's "Permission denied" as the only trace.
  if (!active) return;
  const lateHome = join(work, 'elsewhere', 'homes', 'late');
  const added = await runFerry(
    ['users', 'add', 'late', '--password-stdin', '--home', lateHome, '--data-dir', dataDir],
    `${PASSWORD}\n`,
  );
  assert.equal(added.code, 0, added.stderr);
  const late = await sftpBatch({ port, user: 'late', password: PASSWORD, batch: 'ls\n', cwd: work });
  assert.notEqual(late.code, 0);
  const warned = serving
    .stderr()
    .split('\n')
    .filter(
      (line) => line.includes('"the home directory cannot be opened"') && line.includes('"user":"late"'),
    );
  assert.equal(warned.length, 1, serving.stderr());
});

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
