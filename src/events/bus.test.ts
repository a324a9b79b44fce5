// Queued subscribers: in order, never inside emit(), bounded (oldest dropped, counted, logged), failures logged by name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from './bus.js';
import type { FerryEvent } from './types.js';

/** A logger that keeps what it is told (the bus logs through warn and error only). */
function recordingLog() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, fields, msg });
  return { lines, log: { warn: at('warn'), error: at('error') } as never };
}

const event = (n: number): FerryEvent => ({
  type: 'session',
  phase: 'connect',
  at: new Date(),
  sessionId: `s${n}`,
  detail: {},
});

test('a queued subscriber gets every event in order, after emit() has returned', async () => {
  const bus = new EventBus();
  const got: string[] = [];
  const sub = bus.subscribeQueued(
    async (e) => {
      await new Promise((r) => setTimeout(r, 5));
      got.push((e as { sessionId: string }).sessionId);
    },
    { name: 'ordered' },
  );
  for (let i = 0; i < 5; i++) await bus.emit(event(i));
  assert.deepEqual(got, [], 'nothing delivered inside emit()');
  await sub.idle();
  assert.deepEqual(got, ['s0', 's1', 's2', 's3', 's4']);
  assert.equal(sub.stats.delivered, 5);
});

test('a full queue drops its oldest event with a counted warning naming the subscriber', async () => {
  const { lines, log } = recordingLog();
  const bus = new EventBus(log);
  const got: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const sub = bus.subscribeQueued(
    async (e) => {
      await gate;
      got.push((e as { sessionId: string }).sessionId);
    },
    { name: 'tiny', maxQueue: 2 },
  );
  bus.emit(event(0));
  await new Promise((r) => setImmediate(r)); // s0 is now in delivery, held at the gate
  for (let i = 1; i <= 4; i++) bus.emit(event(i)); // the queue holds 2: s1 and s2 are dropped
  release();
  await sub.idle();
  assert.deepEqual(got, ['s0', 's3', 's4']);
  assert.equal(sub.stats.dropped, 2);
  const warnings = lines.filter((l) => l.level === 'warn');
  assert.equal(warnings.length, 2);
  assert.deepEqual(
    warnings.map((w) => [w.fields.subscriber, w.fields.dropped]),
    [
      ['tiny', 1],
      ['tiny', 2],
    ],
  );
});

test('a failing queued subscriber is logged with its name and keeps receiving; others are not affected', async () => {
  const { lines, log } = recordingLog();
  const bus = new EventBus(log);
  const awaited: string[] = [];
  bus.subscribe((e) => awaited.push((e as { sessionId: string }).sessionId));
  let calls = 0;
  const broken = bus.subscribeQueued(
    () => {
      calls++;
      throw new Error('webhook down');
    },
    { name: 'webhook' },
  );
  const rejecting = bus.subscribeQueued(() => Promise.reject(new Error('smtp down')), { name: 'mail' });
  await bus.emit(event(1));
  await bus.emit(event(2));
  assert.deepEqual(awaited, ['s1', 's2']);
  await bus.drainQueued();
  assert.equal(calls, 2);
  assert.equal(broken.stats.failed, 2);
  assert.equal(rejecting.stats.failed, 2);
  const errors = lines
    .filter((l) => l.level === 'error')
    .map((l) => `${l.fields.subscriber}: ${(l.fields.err as Error).message}`)
    .sort();
  assert.deepEqual(errors, [
    'mail: smtp down',
    'mail: smtp down',
    'webhook: webhook down',
    'webhook: webhook down',
  ]);
});

test('unsubscribing drops what is still queued (logged) and stops delivery', async () => {
  const { lines, log } = recordingLog();
  const bus = new EventBus(log);
  const got: string[] = [];
  const sub = bus.subscribeQueued(
    async (e) => {
      await new Promise((r) => setTimeout(r, 20));
      got.push((e as { sessionId: string }).sessionId);
    },
    { name: 'leaving' },
  );
  for (let i = 0; i < 3; i++) bus.emit(event(i));
  await new Promise((r) => setImmediate(r));
  sub();
  bus.emit(event(9));
  await sub.idle();
  assert.deepEqual(got, ['s0']);
  assert.equal(sub.stats.dropped, 2);
  assert.ok(lines.some((l) => l.level === 'warn' && l.fields.subscriber === 'leaving'));
  assert.equal(await bus.drainQueued(10), true);
});
