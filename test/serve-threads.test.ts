// `ferry serve --workers 2 --worker-mode threads`: one process whose main thread serves and runs a second worker
// thread on the same sockets. Real OpenSSH sessions land on both threads; the relays (metrics, status, bandwidth)
// see both; a thread that ends is replaced under the hardened process; SIGHUP reloads and SIGTERM stops both; a
// port in use is one line.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { freePort, type Serving, serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';
import { childPids } from './helpers/processes.js';

const PASSWORD = 'threads-pw-31415';
const EXIT_ONCE = join(import.meta.dirname, 'helpers', 'thread-exit-once.mjs');
let dir: string;
const children: ChildProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-serve-threads-'));
  await writeFile(join(dir, 'up.bin'), Buffer.alloc(1024 * 1024, 9).fill(4, 1000, 2000));
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A data dir with user tess and an admin API key, served as two worker threads with the HTTP API. */
async function serveThreads(
  name: string,
  options: { nodeFlags?: string[]; env?: Record<string, string> } = {},
) {
  const dataDir = join(dir, name);
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const key = await runFerry(['apikeys', 'add', 'ops', '--role', 'admin', '--data-dir', dataDir]);
  assert.equal(key.code, 0, key.stderr);
  const user = await runFerry(
    ['users', 'add', 'tess', '--password-stdin', '--data-dir', dataDir],
    `${PASSWORD}\n`,
  );
  assert.equal(user.code, 0, user.stderr);
  const httpPort = await freePort();
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    ['--workers', '2', '--worker-mode', 'threads', '--http-listen', `127.0.0.1:${httpPort}`],
    /SFTP listening on 127\.0\.0\.1:(\d+) \(2 worker threads, data dir/,
    options,
  );
  const api = async (path: string) => {
    const reply = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      headers: { authorization: `Bearer ${key.stdout.trim().split('\n').at(-1)}` },
    });
    assert.equal(reply.status, 200, path);
    return reply;
  };
  return { dataDir, serving, port: Number(match[1]), api };
}

/** The worker each authenticated session ran on: its thread id (a worker thread), else the pid (the main thread). */
function sessionWorkers(serving: Serving): Map<string, number> {
  const workers = new Map<string, number>();
  for (const line of serving.stderr().split('\n')) {
    if (!line.includes('"msg":"authenticated"')) continue;
    const entry = JSON.parse(line) as { sessionId: string; pid: number; thread?: number };
    workers.set(entry.sessionId, entry.thread ?? entry.pid);
  }
  return workers;
}

/** `count` concurrent uploads as tess; each must succeed. */
async function uploads(port: number, prefix: string, count: number): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const put = await sftpBatch({
        port,
        user: 'tess',
        password: PASSWORD,
        batch: `put up.bin ${prefix}-${i}.bin\n`,
        cwd: dir,
      });
      assert.equal(put.code, 0, put.stderr);
    }),
  );
}

/** Uploads in rounds of eight at once until sessions ran on `want` distinct workers (or rounds run out). */
async function untilSpread(port: number, serving: Serving, want: (workers: Set<number>) => boolean) {
  for (let round = 0; round < 6; round++) {
    await uploads(port, `r${round}`, 8);
    if (want(new Set(sessionWorkers(serving).values()))) return round + 1;
  }
  assert.fail(`sessions stayed on ${[...new Set(sessionWorkers(serving).values())].join(', ')}`);
}

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

async function statusWorkers(api: (path: string) => Promise<Response>): Promise<number[]> {
  return ((await (await api('/api/status')).json()) as { workers: number[] }).workers;
}

describe('serve --workers 2 --worker-mode threads', () => {
  test('one process serves on two threads; metrics and status gather both; SIGTERM stops both', async () => {
    const { dataDir, serving, port, api } = await serveThreads('two');
    const pid = serving.child.pid!;
    assert.deepEqual(await childPids(pid), [], 'no worker processes: the workers are threads');

    // Landlock (with no_new_privs) covers every thread of the process, the worker thread's included, but node's
    // SIGUSR1 watchdog, which blocks every signal and runs no JavaScript (src/vfs/local/confine.ts).
    let covered = 0;
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const status = await readFile(`/proc/${pid}/task/${task}/status`, 'utf8').catch(() => '');
      const blocked = BigInt(`0x${/^SigBlk:\s+(\w+)$/m.exec(status)?.[1] ?? '0'}`);
      if (!status || blocked.toString(2).replaceAll('0', '').length > 56) continue;
      assert.match(status, /^NoNewPrivs:\s+1$/m, `task ${task}`);
      covered++;
    }
    assert.ok(covered >= 4, `${covered} tasks checked`);
    const rounds = await untilSpread(port, serving, (workers) => workers.size === 2);
    const workers = new Set(sessionWorkers(serving).values());
    assert.ok(workers.has(pid), 'the main thread served sessions');
    for (let i = 0; i < 8; i++)
      assert.equal(
        await sha256(join(dataDir, 'homes', 'tess', `r0-${i}.bin`)),
        await sha256(join(dir, 'up.bin')),
      );

    // Every worker answers the status and the metrics (the main thread relays as a primary does).
    const ids = await statusWorkers(api);
    assert.equal(ids.length, 2);
    assert.deepEqual(new Set(ids), workers, 'the status lists the two workers the sessions ran on');
    const metrics = await (await api('/metrics')).text();
    const completed =
      /ferry_transfer_files_total\{direction="upload",protocol="sftp",outcome="completed"\} (\d+)/.exec(
        metrics,
      );
    assert.equal(Number(completed?.[1]), rounds * 8, 'the uploads of both threads counted');

    // A reload reaches both threads (the main thread passes SIGHUP on).
    serving.child.kill('SIGHUP');
    const reloads = () => serving.stderr().match(/"msg":"SIGHUP: host keys re-read"/g)?.length ?? 0;
    for (const end = Date.now() + 10_000; reloads() < 2; ) {
      assert.ok(Date.now() < end, `${reloads()} of 2 threads reloaded`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const exited = new Promise<number | null>((resolve) => serving.child.once('exit', resolve));
    serving.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(serving.stderr().match(/"msg":"stopped"/g)?.length, 2, 'both threads stopped cleanly');
    const verify = await runFerry(['audit', 'verify', '--data-dir', dataDir]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('a worker thread that ends is replaced, and the new one serves in the hardened process', async () => {
    const name = 'replaced';
    const { serving, port, api } = await serveThreads(name, {
      nodeFlags: ['--import', EXIT_ONCE],
      env: { THREAD_EXIT_MARKER: join(dir, name, 'thread-exit-marker') },
    });
    const before = await statusWorkers(api);
    assert.equal(before.length, 2);
    const deadline = Date.now() + 20_000;
    while (!serving.stderr().includes('"msg":"worker thread ended; starting another"')) {
      assert.ok(Date.now() < deadline, `no thread replaced:\n${serving.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    let after: number[] = [];
    while (after.length !== 2 || after.every((id) => before.includes(id))) {
      assert.ok(Date.now() < deadline, `the status did not show a new thread: ${after.join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await statusWorkers(api);
    }
    const replacement = after.find((id) => !before.includes(id))!;
    await untilSpread(port, serving, (workers) => workers.has(replacement));
    assert.doesNotMatch(serving.stderr(), /could not start|EACCES/);
    await serving.stop();
    assert.equal(serving.child.exitCode, 0);
  });

  test('kill -9 mid-upload: nothing half-written is published, and the restarted server verifies and serves', async () => {
    const { dataDir, serving, port } = await serveThreads('killed');
    const big = join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(4 * 1024 * 1024, 5));
    // About 1 MB/s (sftp -l is in Kbit/s): still uploading when the process is killed.
    const upload = sftpBatch({
      port,
      user: 'tess',
      password: PASSWORD,
      extraArgs: ['-l', '8000'],
      batch: `put ${big} big.bin\n`,
    });
    const home = join(dataDir, 'homes', 'tess');
    const partial = async () =>
      (await readdir(home).catch(() => [] as string[])).length > 0 &&
      (await readFile(join(home, (await readdir(home))[0]!)).catch(() => Buffer.alloc(0))).length >
        256 * 1024;
    for (const end = Date.now() + 20_000; !(await partial()); ) {
      assert.ok(Date.now() < end, 'the upload did not start');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const killed = new Promise((resolve) => serving.child.once('exit', resolve));
    serving.child.kill('SIGKILL');
    await killed;
    assert.notEqual((await upload).code, 0, 'the client saw the upload fail');
    assert.deepEqual(
      (await readdir(home)).filter((name) => !name.startsWith('.')),
      [],
      'no file under its final name',
    );

    const verify = await runFerry(['audit', 'verify', '--data-dir', dataDir]);
    assert.equal(verify.code, 0, verify.stderr);
    const again = await serveFerry(
      dataDir,
      children,
      ['--workers', '2', '--worker-mode', 'threads', '--http-listen', '127.0.0.1:0'],
      /SFTP listening on 127\.0\.0\.1:(\d+) \(2 worker threads/,
    );
    await uploads(Number(again.match[1]), 'after', 4);
    assert.equal(await sha256(join(home, 'after-0.bin')), await sha256(join(dir, 'up.bin')));
    await again.serving.stop();
  });

  test('a port in use ends the start with one line and exit code 1', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as { port: number }).port;
    try {
      const dataDir = join(dir, 'busy');
      assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
      const served = await runFerry([
        'serve',
        ...['--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', String(taken)],
        ...['--workers', '2', '--worker-mode', 'threads', '--http-listen', '127.0.0.1:0'],
      ]);
      assert.equal(served.code, 1);
      assert.equal(
        served.stderr.trim(),
        `ferry: cannot listen on 127.0.0.1:${taken}: the port is in use (another server, or a Ferry still running?); stop it or choose another --sftp-port`,
      );
    } finally {
      busy.close();
    }
  });

  test('a bad --worker-mode is refused with one line', async () => {
    const bad = await runFerry(['serve', '--data-dir', join(dir, 'bad'), '--worker-mode', 'fibers']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /workerMode/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  });
});
