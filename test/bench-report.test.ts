// The bench's table: a paired row's ratio is the median of its pairs' ratios, not the ratio of its columns' medians.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTable, toRow } from '../bench/report.js';
import type { Measurement } from '../bench/scenarios.js';

const base = {
  id: 'x',
  label: 'x',
  unit: 'MiB/s',
  better: 'higher',
  target: { kind: 'ratio-at-least', value: 0.95 },
} as const;
// Sessions drift (the third twice as fast as the first), each session's two figures 4 % apart.
const runs = { ferry: [96, 144, 192, 120, 168], openssh: [100, 150, 200, 125, 175] };

test('a paired row’s ratio is the median of its pairs’ ratios, and the table says so', () => {
  const paired: Measurement = { ...base, runs, paired: true };
  const row = toRow(paired);
  assert.equal(row.ratio.toFixed(3), '0.960');
  assert.equal(row.met, true);
  assert.match(formatTable([row]), /0\.96× \(pairs\)/);
});

test('an unpaired row’s ratio stays the ratio of the medians', () => {
  // Each run's own pair is 0.95, 0.97 and 0.33; the medians (100 and 300) are the third run's, the outlier.
  const skewed = { ferry: [95, 300, 100], openssh: [100, 310, 300] };
  const row = toRow({ ...base, runs: skewed });
  assert.equal(row.ratio, 100 / 300);
  assert.doesNotMatch(formatTable([row]), /\(pairs\)/);
  const paired = toRow({ ...base, runs: skewed, paired: true });
  assert.equal(paired.ratio, 0.95);
  assert.equal(paired.met, true, 'the target is judged on the pairs too');
  assert.equal(row.met, false);
});
