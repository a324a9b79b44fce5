// `npm run bench:ab`'s arithmetic: each build's median over its rounds, B against A per pair of instances, and the
// order the rounds of a pair take.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AbRound, roundOrder, summarize } from '../bench/ab-summary.js';

test('medians of an odd and an even count of rounds; a build without rounds is an error', () => {
  const rounds = (a: number[], b: number[]): AbRound[] => [
    ...a.map((value) => ({ build: 'A' as const, instance: 0, value })),
    ...b.map((value) => ({ build: 'B' as const, instance: 0, value })),
  ];
  const s = summarize(rounds([3, 1, 2], [4, 1, 3, 2]));
  assert.equal(s.a.median, 2);
  assert.equal(s.b.median, 2.5);
  assert.throws(() => summarize(rounds([1], [])), /no rounds of build B/);
});

test('B against A: medians of all rounds, and per pair of instances', () => {
  const rounds: AbRound[] = [
    // Pair 0: B 10 % ahead; pair 1 (a faster pair of instances): B level with A.
    { build: 'A', instance: 0, value: 100 },
    { build: 'B', instance: 0, value: 110 },
    { build: 'B', instance: 0, value: 110 },
    { build: 'A', instance: 0, value: 100 },
    { build: 'B', instance: 1, value: 120 },
    { build: 'A', instance: 1, value: 120 },
    { build: 'A', instance: 1, value: 120 },
    { build: 'B', instance: 1, value: 120 },
  ];
  const s = summarize(rounds);
  assert.deepEqual(s.a, { median: 110, min: 100, max: 120 });
  assert.deepEqual(s.b, { median: 115, min: 110, max: 120 });
  assert.equal(s.ratio, 115 / 110);
  assert.deepEqual(s.perInstance, [1.1, 1]);
});

test('a pair with rounds of one build only has no ratio of its own', () => {
  const s = summarize([
    { build: 'A', instance: 0, value: 100 },
    { build: 'B', instance: 0, value: 90 },
    { build: 'A', instance: 1, value: 100 },
  ]);
  assert.deepEqual(s.perInstance, [0.9]);
});

test('rounds alternate A B B A, then B A A B for the next pair, as many of each build', () => {
  assert.deepEqual(roundOrder(0, 4), ['A', 'B', 'B', 'A']);
  assert.deepEqual(roundOrder(1, 4), ['B', 'A', 'A', 'B']);
  assert.deepEqual(roundOrder(2, 6), ['A', 'B', 'B', 'A', 'A', 'B']);
  // An odd count is made even, and there are always two.
  assert.deepEqual(roundOrder(0, 3), ['A', 'B', 'B', 'A']);
  assert.deepEqual(roundOrder(1, 1), ['B', 'A']);
});
