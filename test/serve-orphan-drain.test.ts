// The primary of `serve --workers 2` killed (kill -9) while a rate-limited upload is in flight: its worker does not
// die with it (node's cluster default) but drains: the upload completes intact, limited by the worker's own bucket
// once the primary's leases are gone, its session's end is in the trail, and the worker exits by itself.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runFerry } from './helpers/cli.js';
import { serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';

const PASSWORD = 'Orph4n-dra1n';
const MiB = 1024 * 1024;
const children: ChildProcess[] = [];
const workerPids: number[] = [];
let work: string | undefined;
after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of workerPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
  if (work) await rm(work, { recursive: true, force: true });
});

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The size of the one regular file under `dir` (an upload in progress has a hidden temporary name), else 0. */
async function uploadedSoFar(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  let bytes = 0;
  for (const entry of entries) {
    if (entry.isFile())
      bytes += (await stat(join(entry.parentPath, entry.name)).catch(() => undefined))?.size ?? 0;
  }
  return bytes;
}

function tryConnect(port: number): Promise<'refused' | 'accepted'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', () => resolve('refused'));
  });
}

test('kill -9 of the primary mid-upload: the worker drains, the limited upload completes intact and is recorded, the worker exits', {
  timeout: 120_000,
}, async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-orphan-'));
  const dataDir = join(work, 'data');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const added = await runFerry(['users', 'add', 'olga', '--password-stdin', '--data-dir', dataDir], PASSWORD);
  assert.equal(added.code, 0, added.stderr);
  // The shared bucket of a user's rate lives in the primary (core/rate-relay.ts): the worker leases from it.
  const limited = await runFerry(['users', 'set', 'olga', '--upload-rate', '1MiB', '--data-dir', dataDir]);
  assert.equal(limited.code, 0, limited.stderr);
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    ['--workers', '2'],
    /SFTP listening on 127\.0\.0\.1:(\d+)/,
  );
  const port = Number(match[1]);
  const local = join(work, 'four.bin');
  await writeFile(local, randomBytes(4 * MiB));
  const started = performance.now();
  const upload = sftpBatch({ port, user: 'olga', password: PASSWORD, batch: `put ${local} /four.bin\n` });
  const home = join(dataDir, 'homes', 'olga');
  for (const deadline = Date.now() + 30_000; (await uploadedSoFar(home)) < MiB; ) {
    assert.ok(Date.now() < deadline, 'the upload did not start');
    await sleep(50);
  }
  const served = serving
    .stderr()
    .match(/"pid":(\d+)[^\n]*"msg":"authenticated"/)
    ?.at(1);
  assert.ok(served, serving.stderr());
  const worker = Number(served);
  workerPids.push(worker);
  serving.child.kill('SIGKILL');
  await new Promise((resolve) => serving.child.once('exit', resolve));

  // The listening socket was the primary's: nobody new gets in, while the session in flight goes on.
  assert.equal(await tryConnect(port), 'refused');
  assert.ok(alive(worker), 'the worker outlived its primary');
  const result = await upload;
  const seconds = (performance.now() - started) / 1000;
  assert.equal(result.code, 0, `${result.stderr}\nserver log:\n${serving.stderr()}`);
  assert.equal(await sha256(join(home, 'four.bin')), await sha256(local));
  // Still limited after the primary went (a burst of a second's worth is allowed at the start).
  assert.ok(seconds >= 2.5, `4 MiB at 1 MiB/s took ${seconds.toFixed(1)} s`);
  // The session gone, the worker ends by itself, well before the drain's 30 s.
  for (const deadline = Date.now() + 20_000; alive(worker); ) {
    assert.ok(Date.now() < deadline, `worker ${worker} still running:\n${serving.stderr()}`);
    await sleep(100);
  }
  assert.match(serving.stderr(), /"signal":"parent exited"[^\n]*"msg":"shutting down"/);
  assert.doesNotMatch(serving.stderr(), /uncaught|ERR_IPC_CHANNEL_CLOSED/i);
  const trail = await runFerry(['audit', 'query', '--user', 'olga', '--json', '--data-dir', dataDir]);
  assert.equal(trail.code, 0, trail.stderr);
  const actions = trail.stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { action: string }).action);
  assert.deepEqual(actions.slice(-2), ['upload', 'disconnect'], trail.stdout);
});
