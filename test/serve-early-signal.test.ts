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

/** `ferry serve` on DIR/data, sent `signal` as soon as it prints its first line; resolves with how it ended. */
async function signalOnFirstLine(
  args: string[],
  signal: NodeJS.Signals,
): Promise<{
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  dataDir: string;
}> {
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, ended] = (await new Promise((resolve) => child.once('exit', (...a) => resolve(a)))) as [
    number | null,
    NodeJS.Signals | null,
  ];
  clearTimeout(timer);
  return { code, signal: ended, stdout, stderr, dataDir };
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
  const ended = await signalOnFirstLine(['--workers', '1', '--ftps-port', '0'], 'SIGTERM');
  const log = `${ended.stdout}\n${ended.stderr}`;
  assert.deepEqual([ended.code, ended.signal], [0, null], log);
  // The first line (the confinement) came before the store and the listeners were up; the signal waited for them.
  assert.match(ended.stdout, /SFTP listening on 127\.0\.0\.1:\d+/, log);
  assert.match(ended.stderr, /"signal":"SIGTERM".*"msg":"shutting down"/, log);
  assert.match(ended.stderr, /"msg":"stopped"/, log);
});

test('SIGINT during a single process start-up stops it the same way', async () => {
  const ended = await signalOnFirstLine(['--workers', '1'], 'SIGINT');
  assert.deepEqual([ended.code, ended.signal], [0, null], `${ended.stdout}\n${ended.stderr}`);
  assert.match(ended.stderr, /"signal":"SIGINT".*"msg":"shutting down"/);
});

test('SIGTERM to the primary while it prepares the data dir: no worker starts, it exits 0 and leaves no process', async () => {
  const ended = await signalOnFirstLine(['--workers', '2'], 'SIGTERM');
  const log = `${ended.stdout}\n${ended.stderr}`;
  assert.deepEqual([ended.code, ended.signal], [0, null], log);
  assert.match(ended.stderr, /"signal":"SIGTERM".*"msg":"stopping workers"/, log);
  assert.doesNotMatch(ended.stdout, /SFTP listening/, log);
  // The preparing process had printed the line; it ends by itself, and no worker was forked.
  for (const deadline = Date.now() + 10_000; processesServing(ended.dataDir).length > 0; ) {
    assert.ok(Date.now() < deadline, `still running: ${processesServing(ended.dataDir).join(', ')}`);
    await sleep(100);
  }
});
