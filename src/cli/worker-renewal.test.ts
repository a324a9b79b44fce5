import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { loggers } from '../logger.js';
import { MAX_DRAINING_GENERATIONS, RETIRE_MESSAGE, WorkerRenewal } from './worker-renewal.js';

/** A cluster worker as the renewal sees it: messages, its pid, the signals sent to its process. */
class FakeWorker extends EventEmitter {
  static #pid = 1000;
  readonly sent: unknown[] = [];
  readonly signals: string[] = [];
  readonly process = { pid: FakeWorker.#pid++, kill: (signal: string) => this.signals.push(signal) };

  send(message: unknown): boolean {
    this.sent.push(message);
    return true;
  }
}

function setUp(perGeneration: number) {
  const all: FakeWorker[] = [];
  let serving: FakeWorker[] = [];
  const fork = () => {
    const worker = new FakeWorker();
    all.push(worker);
    // It listens on the next turn, as a real one reports once its rules are made.
    setImmediate(() => worker.emit('message', { type: 'listening', hardening: [] }));
    return worker as unknown as Worker;
  };
  for (let i = 0; i < perGeneration; i++) serving.push(fork() as unknown as FakeWorker);
  const renewal = new WorkerRenewal({
    fork: () => {
      const worker = fork();
      serving.push(worker as unknown as FakeWorker);
      return worker;
    },
    workers: () => serving as unknown as Worker[],
    stopping: () => false,
    log: loggers.serve.child({}, { level: 'silent' }),
  });
  /** One renewal for a new directory, until every worker of the generation before is replaced. */
  const renew = async (path: string) => {
    const before = serving.filter((w) => !renewal.owns(w as unknown as Worker));
    renewal.request([path]);
    const end = Date.now() + 10_000;
    while (!before.every((w) => w.sent.includes(RETIRE_MESSAGE))) {
      if (Date.now() > end) throw new Error(`the renewal for ${path} did not retire the workers before it`);
      await new Promise((r) => setImmediate(r));
    }
    serving = serving.filter((w) => !before.includes(w));
  };
  return { all, renewal, renew };
}

test('replaced workers drain without a deadline up to the bound of generations; older ones get SIGTERM once', async () => {
  const { all, renewal, renew } = setUp(2);
  const firstGeneration = all.slice(0, 2);
  for (let i = 1; i <= MAX_DRAINING_GENERATIONS; i++) await renew(`/srv/homes-${i}`);
  assert.deepEqual(
    all.map((w) => w.signals.length),
    all.map(() => 0),
    `${MAX_DRAINING_GENERATIONS} generations draining: nobody is hurried`,
  );
  await renew('/srv/homes-next');
  assert.deepEqual(
    firstGeneration.map((w) => w.signals),
    [['SIGTERM'], ['SIGTERM']],
    'the oldest generation is told to stop within drainTimeout',
  );
  assert.ok(
    all.slice(2).every((w) => w.signals.length === 0),
    'the newer generations drain on',
  );
  await renew('/srv/homes-later');
  assert.deepEqual(
    firstGeneration.map((w) => w.signals.length),
    [1, 1],
    'never signalled twice',
  );
  assert.deepEqual(
    all.slice(2, 4).map((w) => w.signals),
    [['SIGTERM'], ['SIGTERM']],
  );
  // One that has ended no longer counts: the next renewal hurries the next oldest, not a third.
  for (const w of all.slice(0, 4)) renewal.exited(w as unknown as Worker);
  await renew('/srv/homes-last');
  assert.deepEqual(
    all.slice(4, 6).map((w) => w.signals),
    [['SIGTERM'], ['SIGTERM']],
  );
  assert.ok(all.slice(6).every((w) => w.signals.length === 0));
});
