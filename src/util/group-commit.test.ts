import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit } from './group-commit.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function recorder() {
  const batches: string[][] = [];
  let release: (() => void) | undefined;
  let hold = false;
  return {
    batches,
    holdNext() {
      hold = true;
    },
    releaseHeld() {
      release?.();
    },
    commit: async (batch: string[]) => {
      batches.push(batch);
      if (hold) {
        hold = false;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      }
    },
  };
}

test('with no delay, a lone item is committed on the next turn of the event loop, not after a timer', async () => {
  const r = recorder();
  const group = new GroupCommit<string>({ flushDelayMs: 0, maxBatch: 256, commit: r.commit });
  group.push('a');
  assert.deepEqual(r.batches, [], 'not inside push itself: items of the same turn may still join');
  await turn();
  await turn();
  assert.deepEqual(r.batches, [['a']]);
});

test('items pushed in the same turn share one batch', async () => {
  const r = recorder();
  const group = new GroupCommit<string>({ flushDelayMs: 0, maxBatch: 256, commit: r.commit });
  for (const item of ['a', 'b', 'c']) group.push(item);
  await group.flush();
  assert.deepEqual(r.batches, [['a', 'b', 'c']]);
});

test('items arriving while a batch commits wait for it and then go together (group commit)', async () => {
  const r = recorder();
  const group = new GroupCommit<string>({ flushDelayMs: 0, maxBatch: 256, commit: r.commit });
  r.holdNext();
  group.push('a');
  await turn();
  await turn();
  assert.deepEqual(r.batches, [['a']], 'the first batch is committing');
  group.push('b');
  group.push('c');
  await turn();
  await turn();
  assert.equal(r.batches.length, 1, 'no second transaction while the first is in flight');
  r.releaseHeld();
  await group.flush();
  assert.deepEqual(r.batches, [['a'], ['b', 'c']]);
});

test('a positive delay still holds a lone item for company until it expires', async () => {
  const r = recorder();
  const group = new GroupCommit<string>({ flushDelayMs: 40, maxBatch: 256, commit: r.commit });
  group.push('a');
  await turn();
  await turn();
  assert.deepEqual(r.batches, []);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(r.batches, [['a']]);
});

test('maxBatch splits a burst into batches of at most that weight', async () => {
  const r = recorder();
  const group = new GroupCommit<string>({ flushDelayMs: 0, maxBatch: 2, commit: r.commit });
  for (const item of ['a', 'b', 'c', 'd', 'e']) group.push(item);
  await group.flush();
  assert.deepEqual(r.batches.flat(), ['a', 'b', 'c', 'd', 'e']);
  assert.ok(r.batches.every((b) => b.length <= 2));
});
