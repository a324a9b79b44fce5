// One server lifecycle and events as the single door: slow alerts never slow an upload, jobs and the server report themselves.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, type SFTPWrapper } from 'ssh2';
import { addUser, parsePermissions } from '../src/auth/user-admin.js';
import { loadConfig } from '../src/config/load.js';
import type { EventBus } from '../src/events/bus.js';
import type { FerryEvent, JobEvent, SystemEvent } from '../src/events/types.js';
import { rootLogger, setLogFileSink } from '../src/logger.js';
import { type RunningFerry, startFerry } from '../src/server.js';
import { Secret } from '../src/util/secret.js';

const PASSWORD = 'lifecycle-test-password';
const SLOW_MS = 5000;

let dir: string;
let running: RunningFerry;
let bus: EventBus;
/** Every event, as an awaited subscriber that returns at once sees it. */
const seen: FerryEvent[] = [];
/** JSON log lines of the server while the test runs (the root logger's second sink). */
const logLines: Record<string, unknown>[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(find: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function connect(port: number, username = 'alice'): Promise<{ client: Client; sftp: SFTPWrapper }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('error', reject);
    client.once('ready', () => client.sftp((err, sftp) => (err ? reject(err) : resolve({ client, sftp }))));
    client.connect({ host: '127.0.0.1', port, username, password: PASSWORD });
  });
}

/** Uploads `size` random bytes to `path` and returns how long the CLOSE took, in milliseconds. */
async function uploadCloseMs(port: number, path: string, size = 256 * 1024): Promise<number> {
  const { client, sftp } = await connect(port);
  try {
    const handle = await promisify(sftp.open.bind(sftp))(path, 'w');
    const data = randomBytes(size);
    await promisify(sftp.write.bind(sftp))(handle, data, 0, data.length, 0);
    const started = performance.now();
    await promisify(sftp.close.bind(sftp))(handle);
    return performance.now() - started;
  } finally {
    client.end();
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-lifecycle-'));
  setLogFileSink({ write: (line) => logLines.push(JSON.parse(line) as Record<string, unknown>) });
  const config = loadConfig({
    env: {},
    flags: {
      dataDir: join(dir, 'data'),
      listen: '127.0.0.1',
      sftpPort: 0,
      // The test reads queued subscribers' failures from the log (errors); the stop order at debug, later.
      logLevel: 'error',
      allowList: '127.0.0.1',
      // Above any real disk's free space: the check reports it low at once.
      diskSpaceLowPercent: 99,
      http: { listen: '127.0.0.1:0' },
    },
  });
  running = await startFerry(config, () => {}, 'create', {
    subscribe: (events) => {
      bus = events;
      events.subscribe((event) => {
        seen.push(event);
      });
    },
  });
  await addUser(running.context.store.users, { name: 'alice', password: new Secret(PASSWORD) });
});

after(async () => {
  setLogFileSink(undefined);
  rootLogger.level = 'silent';
  await rm(dir, { recursive: true, force: true });
});

describe('events as the single door', () => {
  test('the server announces itself started, with its services, before anything else', async () => {
    const started = seen.find((e): e is SystemEvent => e.type === 'system' && e.phase === 'started');
    assert.ok(started, 'a started event');
    // Only the first-run work (host keys, the admin account: audited admin events) comes before it.
    const before = seen.slice(0, seen.indexOf(started));
    assert.deepEqual(
      // The API administrator the first start creates is recorded as the system's admins.add.
      before.filter(
        (e) =>
          !(
            e.type === 'admin' &&
            (e.action.endsWith('first-start') || (e.action === 'admins.add' && e.actor.kind === 'system'))
          ),
      ),
      [],
      'started is the first event after the first-run work',
    );
    assert.equal(started.phase === 'started' && started.detail.port, running.port);
    assert.deepEqual(running.services, [
      'context',
      'queued event subscribers',
      'audit retention',
      'store health events',
      'automation',
      'session count',
      'ssh server',
      'http api',
      'node heartbeat',
      'cluster sessions',
      'deny list sweep',
      'transfer scheduler',
      'host key poll',
      'disk space check',
      'key expiry check',
    ]);
  });

  test('the data dir below diskSpaceLowPercent free gives a disk-space-low event', async () => {
    const low = await waitFor(
      () => seen.find((e) => e.type === 'system' && e.phase === 'disk-space-low'),
      'disk-space-low',
    );
    assert.ok(low.type === 'system' && low.phase === 'disk-space-low');
    assert.equal(low.thresholdPercent, 99);
    assert.ok(low.freePercent < 99 && low.freeBytes > 0);
  });

  test('a queued subscriber taking 5 s per event does not slow an upload’s CLOSE; an awaited one does', async (t) => {
    const without = await uploadCloseMs(running.port, '/baseline.bin');
    let withSlowQueued = Number.NaN;
    const delivered: string[] = [];
    const slow = bus.subscribeQueued(
      async (event) => {
        // Unref'd: a delivery still waiting when the test ends must not keep the process alive.
        await new Promise((r) => setTimeout(r, SLOW_MS).unref());
        delivered.push(event.type);
      },
      { name: 'slow-alerts', maxQueue: 100 },
    );
    try {
      withSlowQueued = await uploadCloseMs(running.port, '/queued.bin');
      assert.ok(withSlowQueued < 1000, `CLOSE took ${withSlowQueued} ms with a slow queued subscriber`);
      assert.ok(
        withSlowQueued < without + 500,
        `CLOSE took ${withSlowQueued} ms, ${without} ms without the subscriber`,
      );
      // The subscriber has the upload's events queued (or in delivery), not lost.
      assert.ok(slow.stats.queued > 0, JSON.stringify(slow.stats));
      assert.equal(slow.stats.dropped, 0);
    } finally {
      slow();
    }
    // The same listener awaited (as the audit writer is) holds CLOSE for as long as it takes: what queued avoids.
    const AWAITED_MS = 1500;
    const unsubscribe = bus.subscribe(async (event) => {
      if (event.type === 'transfer') await sleep(AWAITED_MS);
    });
    try {
      const withAwaited = await uploadCloseMs(running.port, '/awaited.bin');
      t.diagnostic(
        `CLOSE: ${without.toFixed(1)} ms alone, ${withSlowQueued.toFixed(1)} ms with a 5 s queued subscriber, ${withAwaited.toFixed(1)} ms with a 1.5 s awaited one`,
      );
      assert.ok(withAwaited >= AWAITED_MS - 50, `CLOSE took ${withAwaited} ms with an awaited subscriber`);
    } finally {
      unsubscribe();
    }
  });

  test('a failing queued subscriber leaves the upload succeeding, and its failure is logged with its name', async () => {
    const failing = bus.subscribeQueued(
      () => {
        throw new Error('alert channel down');
      },
      { name: 'broken-alerts' },
    );
    try {
      const closeMs = await uploadCloseMs(running.port, '/still-fine.bin', 1024);
      assert.ok(closeMs < 1000);
      const line = await waitFor(
        () =>
          logLines.find(
            (l) => l.msg === 'queued event subscriber failed' && l.subscriber === 'broken-alerts',
          ),
        'the failure log line',
      );
      assert.equal(line.level, 50, 'logged as an error');
      assert.match(String((line.err as { message?: string }).message), /alert channel down/);
      const upload = seen.find((e) => e.type === 'transfer' && e.path === '/still-fine.bin' && e.completed);
      assert.ok(upload, 'the upload completed and was recorded');
    } finally {
      failing();
    }
  });

  test('a refused or failed file operation carries a stable error code', async () => {
    await addUser(running.context.store.users, {
      name: 'reader',
      password: new Secret(PASSWORD),
      permissions: parsePermissions(['/=list,download'], {}),
    });
    const { client, sftp } = await connect(running.port, 'reader');
    try {
      await assert.rejects(promisify(sftp.mkdir.bind(sftp))('/not-allowed'));
    } finally {
      client.end();
    }
    const refused = await waitFor(
      () => seen.find((e) => e.type === 'file-op' && e.operation === 'mkdir' && e.username === 'reader'),
      'the refused mkdir',
    );
    assert.ok(refused.type === 'file-op' && !refused.ok);
    assert.equal(refused.errorCode, 'ERR_PERMISSION_DENIED');
    const alice = await connect(running.port);
    try {
      await assert.rejects(promisify(alice.sftp.unlink.bind(alice.sftp))('/no-such-file'));
    } finally {
      alice.client.end();
    }
    const failed = await waitFor(
      () => seen.find((e) => e.type === 'file-op' && e.operation === 'delete' && e.username === 'alice'),
      'the failed delete',
    );
    assert.ok(failed.type === 'file-op' && !failed.ok);
    assert.equal(failed.errorCode, 'ERR_NOT_FOUND');
  });

  test('a job against an unreachable partner emits started, then failed with ERR_PARTNER_UNREACHABLE', async () => {
    // A port nothing listens on: bind one, then free it.
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const { partners, jobs } = running.context.transfers;
    await partners.add({
      name: 'gone',
      host: '127.0.0.1',
      port: closedPort,
      username: 'x',
      password: new Secret('x'),
    });
    // A pinned key, so the run gets as far as connecting.
    await partners.pin('gone', { algorithm: 'ssh-ed25519', sha256: 'SHA256:notarealkey' });
    await partners.add({
      name: 'untrusted',
      host: '127.0.0.1',
      port: closedPort,
      username: 'x',
      password: new Secret('x'),
    });
    const localDir = join(dir, 'pulled');
    await mkdir(localDir);
    await jobs.add({ name: 'nightly', partner: 'gone', direction: 'pull', remoteDir: '/', localDir });
    await jobs.add({ name: 'unpinned', partner: 'untrusted', direction: 'pull', remoteDir: '/', localDir });
    const run = await jobs.run('nightly');
    assert.equal(run.status, 'failed');
    await jobs.run('unpinned');
    const jobEvents = seen.filter((e): e is JobEvent => e.type === 'job');
    assert.deepEqual(
      jobEvents.map((e) => [e.job, e.phase, e.errorCode]),
      [
        ['nightly', 'started', undefined],
        ['nightly', 'failed', 'ERR_PARTNER_UNREACHABLE'],
        ['unpinned', 'started', undefined],
        ['unpinned', 'failed', 'ERR_HOST_KEY_NOT_TRUSTED'],
      ],
    );
    const failed = jobEvents[1]!;
    assert.equal(failed.run, run.id);
    assert.equal(failed.attempts, 1);
    assert.match(failed.error ?? '', /cannot connect to 127\.0\.0\.1:\d+/);
  });

  test('a job that runs to the end emits succeeded with its files and bytes', async () => {
    // The server itself is the partner: alice's home holds the files uploaded above.
    const { partners, jobs } = running.context.transfers;
    await partners.add({
      name: 'self',
      host: '127.0.0.1',
      port: running.port,
      username: 'alice',
      password: new Secret(PASSWORD),
    });
    await partners.pin('self', await partners.fetchHostKey('self'));
    const localDir = join(dir, 'from-self');
    await mkdir(localDir);
    await jobs.add({
      name: 'copy-baseline',
      partner: 'self',
      direction: 'pull',
      remoteDir: '/',
      localDir,
      pattern: 'baseline.bin',
    });
    const run = await jobs.run('copy-baseline', { trigger: 'manual' });
    assert.equal(run.status, 'ok');
    const events = seen.filter((e): e is JobEvent => e.type === 'job' && e.job === 'copy-baseline');
    assert.deepEqual(
      events.map((e) => [e.phase, e.trigger, e.files, e.bytes, e.errorCode]),
      [
        ['started', 'manual', undefined, undefined, undefined],
        ['succeeded', 'manual', 1, 256 * 1024, undefined],
      ],
    );
  });
});

test('serve takes every setting of the flag table, --max-file-size and --store included, into the checked config', async () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'ferry.js');
  const r = await promisify(execFile)(
    process.execPath,
    [
      bin,
      'serve',
      '--data-dir',
      join(dir, 'never'),
      '--max-file-size',
      'lots',
      '--store',
      'mysql://db',
      '--storage',
      'ftp',
    ],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent' } },
  ).then(
    () => assert.fail('serve started with bad flags'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /maxFileSize: must be a whole number, got 'lots' \(from command line\)/);
  assert.match(r.stderr, /store\.url: must be sqlite:<path>.* \(from command line\)/);
  assert.match(r.stderr, /storage\.backend: .* \(from command line\)/);
});

test('the store failing and recovering (the process health) is a store-error and a store-recovered event', () => {
  const health = running.context.health;
  health.degrade('audit', 'database or disk is full');
  health.recover('audit');
  const store = seen.filter((e): e is SystemEvent => e.type === 'system' && e.phase.startsWith('store-'));
  assert.deepEqual(
    store.map((e) => [e.phase, 'errorCode' in e ? e.errorCode : null, 'error' in e ? e.error : null]),
    [
      ['store-error', 'ERR_AUDIT_UNAVAILABLE', 'database or disk is full'],
      ['store-recovered', null, null],
    ],
  );
});

describe('stopping', () => {
  test('stop() emits stopping, then stops the services in reverse order of their start', async () => {
    rootLogger.level = 'debug';
    await running.stop('test over');
    const stopping = seen.find((e) => e.type === 'system' && e.phase === 'stopping');
    assert.ok(stopping && stopping.type === 'system' && stopping.phase === 'stopping');
    assert.equal(stopping.reason, 'test over');
    assert.ok(running.signal.aborted);
    const stopped = logLines.filter((l) => l.msg === 'stopped' && l.logger === 'serve').map((l) => l.service);
    assert.deepEqual(stopped, [...running.services].reverse());
    // Once is enough: a second stop() changes nothing.
    await running.stop();
    assert.equal(seen.filter((e) => e.type === 'system' && e.phase === 'stopping').length, 1);
  });

  test('a stopped server leaves nothing running: a process that starts, serves an upload and stops exits by itself', async () => {
    const child = promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'helpers', 'server-lifecycle-child.ts')],
      { timeout: 30_000, env: { ...process.env, NODE_ENV: 'test' } },
    );
    const { stdout } = await child;
    assert.match(stdout, /uploaded\nstopped\n$/);
  });
});
