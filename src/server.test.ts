// The server lifecycle's parts: services stop in reverse order whatever fails, the disk space check, store choice.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from './config/load.js';
import { AppContext } from './context.js';
import { EventBus } from './events/bus.js';
import type { FerryEvent } from './events/types.js';
import { rootLogger } from './logger.js';
import { readDiskSpace, ServiceStack, watchDiskSpace } from './server-services.js';

const log = rootLogger.child({ test: 'server' }, { level: 'silent' });

test('services stop in reverse order of their start, once, and a failing one does not keep the others running', async () => {
  const stack = new ServiceStack(log);
  const stopped: string[] = [];
  stack.started('store', () => stopped.push('store'));
  stack.started('listener', async () => {
    await new Promise((r) => setTimeout(r, 5));
    stopped.push('listener');
  });
  stack.started('broken', () => {
    throw new Error('cannot stop');
  });
  stack.started('timer', () => stopped.push('timer'));
  assert.deepEqual(stack.names, ['store', 'listener', 'broken', 'timer']);
  await Promise.all([stack.stop(), stack.stop()]);
  await stack.stop();
  assert.deepEqual(stopped, ['timer', 'listener', 'store']);
});

test('the disk space check emits low once when free space falls below the threshold, and ok when it is back', async () => {
  const bus = new EventBus();
  const events: FerryEvent[] = [];
  bus.subscribe((e) => events.push(e));
  const readings = [40, 9, 8, 30, 31];
  let calls = 0;
  const stop = watchDiskSpace({
    path: '/data',
    thresholdPercent: 10,
    intervalMs: 5,
    events: bus,
    log,
    read: async () => ({ freePercent: readings[Math.min(calls++, readings.length - 1)]!, freeBytes: 1000 }),
  });
  while (calls < readings.length + 1) await new Promise((r) => setTimeout(r, 5));
  stop();
  assert.deepEqual(
    events.map((e) => (e.type === 'system' ? [e.phase, 'freePercent' in e ? e.freePercent : null] : e.type)),
    [
      ['disk-space-low', 9],
      ['disk-space-ok', 30],
    ],
  );
});

test('readDiskSpace reads the file system of a path', async () => {
  const { freePercent, freeBytes } = await readDiskSpace(tmpdir());
  assert.ok(freePercent >= 0 && freePercent <= 100);
  assert.ok(freeBytes >= 0);
});

test('a postgres store the composition root cannot reach is a clear line, before anything is created', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-choice-'));
  try {
    // Port 1 on loopback: nothing listens there.
    const config = loadConfig({
      env: { FERRY_STORE_URL: 'postgres://ferry:pw-never-shown@127.0.0.1:1/ferry' },
      flags: { dataDir: join(dir, 'data') },
    });
    await assert.rejects(AppContext.create(config, 'create'), (err: Error) => {
      assert.match(
        err.message,
        /^cannot reach the PostgreSQL server of postgres:\/\/ferry:\*\*\*@127\.0\.0\.1:1\/ferry/,
      );
      assert.doesNotMatch(err.message, /pw-never-shown/);
      return true;
    });
    assert.equal(existsSync(join(dir, 'data')), false, 'no data dir was created');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a sqlite store URL outside the data dir is where the store is opened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-store-choice-'));
  try {
    const database = join(dir, 'elsewhere.db');
    const config = loadConfig({
      env: { FERRY_STORE_URL: `sqlite:${database}` },
      flags: { dataDir: join(dir, 'data') },
    });
    const ctx = await AppContext.create(config, 'create');
    try {
      assert.equal(ctx.paths.database, database);
      assert.deepEqual(await ctx.store.users.list(), []);
    } finally {
      await ctx.dispose();
    }
    // A second process finds it initialised through the same setting.
    const again = await AppContext.create(config, 'write');
    await again.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
