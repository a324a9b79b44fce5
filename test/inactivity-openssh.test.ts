// Accounts nobody uses are refused: with inactivityDisableDays 30, a user whose last login is 40 days old cannot
// log in over OpenSSH (audited as 'account inactive'), one created yesterday and never logged in can, a login
// is recorded (to the hour), and `ferry users enable` brings the idle account back.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runFerry } from './helpers/cli.js';
import { type Serving, serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';

const PW = 'inactive-pw-4711';
const DAY = 86_400_000;
const children: ChildProcess[] = [];
let work: string;
let dataDir: string;
let serving: Serving;
let port = 0;

const login = (user: string) => sftpBatch({ port, user, password: PW, batch: 'pwd\n' });
const lastLogin = async (user: string) =>
  JSON.parse((await runFerry(['users', 'show', user, '--json', '--data-dir', dataDir])).stdout).lastLogin as
    | string
    | null;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-inactive-'));
  dataDir = join(work, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  for (const user of ['idle', 'fresh']) {
    const added = await runFerry(['users', 'add', user, '--password-stdin', '--data-dir', dataDir], PW);
    assert.equal(added.code, 0, added.stderr);
  }
  // What a login 40 days ago left behind (the store is the only place that says it).
  const store = await openSqliteStore(join(dataDir, 'ferry.db'));
  await store.users.update('idle', { lastLoginAt: new Date(Date.now() - 40 * DAY) });
  await store.close();
  const config = join(work, 'ferry.json');
  await writeFile(config, JSON.stringify({ inactivityDisableDays: 30 }));
  const started = await serveFerry(
    dataDir,
    children,
    ['--config', config],
    /SFTP listening on 127\.0\.0\.1:(\d+)/,
  );
  serving = started.serving;
  port = Number(started.match[1]);
});

after(async () => {
  await serving?.stop();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await rm(work, { recursive: true, force: true });
});

test('an account idle past inactivityDisableDays is refused; a new one is not; enabling brings it back', async () => {
  const refused = await login('idle');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Permission denied/);
  assert.match(serving.stderr(), /"user":"idle"[^\n]*account inactive|account inactive[^\n]*"user":"idle"/);

  assert.equal(await lastLogin('fresh'), null, 'never logged in');
  const ok = await login('fresh');
  assert.equal(ok.code, 0, ok.stderr);
  // Recorded beside the login (not awaited by it): poll the store through the CLI.
  let recorded: string | null = null;
  for (let i = 0; i < 50 && recorded === null; i++) {
    recorded = await lastLogin('fresh');
    if (recorded === null) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(recorded && Date.now() - Date.parse(recorded) < 60_000, `last login recorded: ${recorded}`);

  const enabled = await runFerry(['users', 'enable', 'idle', '--data-dir', dataDir]);
  assert.equal(enabled.code, 0, enabled.stderr);
  const back = await login('idle');
  assert.equal(back.code, 0, back.stderr);
});
