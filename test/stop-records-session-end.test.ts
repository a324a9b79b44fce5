// A server stopping while an FTPS session is open closes it and records its end before it closes the audit trail
// (the listener's close callback comes before the socket's 'close' event, where the session ends).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFerry } from './helpers/cli.js';
import { serveFerry } from './helpers/ferry-serve.js';

const PASSWORD = 'Ftp-st0p-word';
const children: ChildProcess[] = [];
let work: string | undefined;
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (work) await rm(work, { recursive: true, force: true });
});

async function actionsOf(user: string, dataDir: string): Promise<string[]> {
  const trail = await runFerry(['audit', 'query', '--user', user, '--json', '--data-dir', dataDir]);
  assert.equal(trail.code, 0, trail.stderr);
  return trail.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { action: string }).action);
}

test('SIGTERM with an FTPS session open: the session is closed and its disconnect is in the trail', async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-stop-ftps-'));
  const dataDir = join(work, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const added = await runFerry(
    ['users', 'add', 'fay', '--password-stdin', '--data-dir', dataDir],
    `${PASSWORD}\n`,
  );
  assert.equal(added.code, 0, added.stderr);
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    ['--workers', '1', '--ftps-port', '0'],
    /FTPS listening \(explicit 127\.0\.0\.1:(\d+)\)/,
  );
  // lftp logs in, lists, then idles on its open control connection.
  const lftp = spawn(
    'lftp',
    [
      ...['-u', `fay,${PASSWORD}`, '-e'],
      'set ftp:ssl-force true; set ssl:verify-certificate no; set net:max-retries 1; ls; sleep 30; quit',
      `ftp://127.0.0.1:${match[1]}`,
    ],
    { cwd: work, stdio: 'ignore' },
  );
  children.push(lftp);
  for (const deadline = Date.now() + 20_000; !(await actionsOf('fay', dataDir)).includes('auth'); ) {
    if (Date.now() > deadline) throw new Error('lftp did not log in');
    await sleep(100);
  }
  await serving.stop();
  // The server's log goes with a failure: it tells whether the session ended, and when, against the trail's close.
  assert.deepEqual(
    (await actionsOf('fay', dataDir)).slice(-2),
    ['auth', 'disconnect'],
    `server log:\n${serving.stderr()}`,
  );
});
