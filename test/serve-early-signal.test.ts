// A stop signal while the server starts: its listeners accept clients before the start-up has finished, so a SIGTERM
// then must not kill it by node's default action (no drain, no session end in the trail, no "stopped"); it is held
// and stops the server cleanly once started (src/cli/held-signals.ts).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FERRY_BIN, runFerry } from './helpers/cli.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Signalled {
  readonly child: ChildProcess;
  readonly dataDir: string;
  stdout(): string;
  stderr(): string;
  /** How it ended: exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `ferry serve` on a new data dir, sent `signal` as soon as it prints its first line. */
async function signalOnFirstLine(args: string[], signal: NodeJS.Signals): Promise<Signalled> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-early-signal-'));
  dirs.push(dir);
  const dataDir = join(dir, 'data');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const child = spawn(
    process.execPath,
    [FERRY_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0', ...args],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on('data', (d: Buffer) => {
    if (stdout === '') child.kill(signal);
    stdout += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code, ended) => {
      clearTimeout(timer);
      resolve({ code, signal: ended });
    });
  });
  return { child, dataDir, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Until `pattern` is in what `read` returns, or the process ended. */
async function until(served: Signalled, read: () => string, pattern: RegExp): Promise<void> {
  let ended = false;
  void served.exited.then(() => {
    ended = true;
  });
  for (const deadline = Date.now() + 30_000; !pattern.test(read()); ) {
    assert.ok(!ended, `ended before ${pattern}:\n${served.stdout()}\n${served.stderr()}`);
    assert.ok(Date.now() < deadline, `no ${pattern}:\n${served.stdout()}\n${served.stderr()}`);
    await sleep(50);
  }
}

/** The processes whose command line names `dataDir` (a worker left behind would). */
function processesServing(dataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(dataDir))
        found.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return found;
}

test('SIGTERM during a single process start-up: it finishes starting, then drains and exits 0 with "stopped"', async () => {
  const served = await signalOnFirstLine(['--workers', '1', '--ftps-port', '0'], 'SIGTERM');
  const ended = await served.exited;
  const log = `${served.stdout()}\n${served.stderr()}`;
  assert.deepEqual([ended.code, ended.signal], [0, null], log);
  // The first line (the confinement) came before the store and the listeners were up; the signal waited for them.
  assert.match(served.stdout(), /SFTP listening on 127\.0\.0\.1:\d+/, log);
  assert.match(served.stderr(), /"signal":"SIGTERM".*"msg":"shutting down"/, log);
  assert.match(served.stderr(), /"msg":"stopped"/, log);
});

test('SIGINT during a single process start-up: it finishes starting, then stops (without a drain) and exits 0', async () => {
  const served = await signalOnFirstLine(['--workers', '1'], 'SIGINT');
  const ended = await served.exited;
  assert.deepEqual([ended.code, ended.signal], [0, null], `${served.stdout()}\n${served.stderr()}`);
  assert.match(served.stderr(), /"signal":"SIGINT".*"msg":"shutting down"/);
});

test('a second stop signal during start-up ends it at once, with a line that says why', async () => {
  const served = await signalOnFirstLine(['--workers', '1'], 'SIGTERM');
  await until(served, served.stdout, /./);
  // Another kind of signal: two SIGTERMs sent together could merge into one pending signal.
  served.child.kill('SIGINT');
  const ended = await served.exited;
  const log = `${served.stdout()}\n${served.stderr()}`;
  assert.deepEqual(ended, { code: 130, signal: null }, log);
  assert.match(
    served.stderr(),
    /^ferry: start-up interrupted \(SIGINT while a stop was waiting for it\)$/m,
    log,
  );
});

test('SIGTERM to the primary while it prepares the data dir: no worker starts, it exits 0 and leaves no process', async () => {
  const served = await signalOnFirstLine(['--workers', '2'], 'SIGTERM');
  const ended = await served.exited;
  const log = `${served.stdout()}\n${served.stderr()}`;
  assert.deepEqual([ended.code, ended.signal], [0, null], log);
  assert.match(served.stderr(), /"signal":"SIGTERM".*"msg":"stopping workers"/, log);
  assert.doesNotMatch(served.stdout(), /SFTP listening/, log);
  // The preparing process had printed the line; it ends by itself, and no worker was forked.
  for (const deadline = Date.now() + 10_000; processesServing(served.dataDir).length > 0; ) {
    assert.ok(Date.now() < deadline, `still running: ${processesServing(served.dataDir).join(', ')}`);
    await sleep(100);
  }
});

test('SIGHUP (a reload) during a single process start-up: it starts, re-reads its host keys once started and serves on', async () => {
  const served = await signalOnFirstLine(['--workers', '1'], 'SIGHUP');
  await until(served, served.stderr, /"msg":"SIGHUP: host keys re-read"/);
  assert.match(served.stdout(), /SFTP listening on 127\.0\.0\.1:\d+/);
  served.child.kill('SIGTERM');
  assert.deepEqual(await served.exited, { code: 0, signal: null }, served.stderr());
});

test('SIGHUP to the primary while it prepares, and again while its workers start: all of them start and serve', async () => {
  const served = await signalOnFirstLine(['--workers', '2'], 'SIGHUP');
  // The workers are forked once the preparation is done: a reload for them waits until each listens.
  // From the first line on (the preparing process printed it): before node runs any of Ferry's code, a SIGHUP's
  // default action ends the process, and nothing in it can hold it.
  await until(served, served.stdout, /./);
  for (const deadline = Date.now() + 30_000; !/SFTP listening/.test(served.stdout()); ) {
    if (served.child.exitCode !== null || served.child.signalCode !== null || Date.now() > deadline) break;
    served.child.kill('SIGHUP');
    await sleep(20);
  }
  await until(served, served.stdout, /SFTP listening on 127\.0\.0\.1:\d+ \(2 worker processes/);
  served.child.kill('SIGTERM');
  assert.deepEqual(await served.exited, { code: 0, signal: null }, served.stderr());
  assert.doesNotMatch(served.stderr(), /exited during start-up/);
});
