// The lean request histogram reads, scraped and summed over workers, exactly as prom-client's Histogram would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { RequestHistogram } from './request-histogram.js';

const BUCKETS = [0.0001, 0.001, 0.01, 1];
// On the bounds, between them, past the last one; a value no histogram takes (NaN) is left out.
const OBSERVED: [string, number][] = [
  ['write', 0.00005],
  ['write', 0.0001],
  ['write', 0.0004],
  ['read', 0.002],
  ['write', 2.5],
  ['read', 0.01],
  ['open', 1],
];

function both(observations: readonly [string, number][]) {
  const ours = new Registry();
  const theirs = new Registry();
  const histogram = new RequestHistogram({
    name: 'x_seconds',
    help: 'h',
    buckets: BUCKETS,
    registers: [ours],
  });
  const reference = new Histogram<'type'>({
    name: 'x_seconds',
    help: 'h',
    labelNames: ['type'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  for (const [type, seconds] of observations) {
    histogram.observe(type, seconds);
    reference.observe({ type }, seconds);
  }
  histogram.observe('write', Number.NaN);
  return { ours, theirs, histogram };
}

test('a scrape of the request histogram is what prom-client writes for the same observations', async () => {
  const { ours, theirs } = both(OBSERVED);
  const text = await ours.metrics();
  assert.equal(text, await theirs.metrics());
  assert.match(text, /^x_seconds_bucket\{le="0.0001",type="write"\} 2$/m);
  assert.match(text, /^x_seconds_bucket\{le="\+Inf",type="write"\} 4$/m);
  assert.match(text, /^x_seconds_count\{type="read"\} 2$/m);
});

test('summed over workers (AggregatorRegistry) it reads as prom-client histograms summed', async () => {
  const a = both(OBSERVED);
  const b = both(OBSERVED.slice(2));
  const ours = AggregatorRegistry.aggregate([
    await a.ours.getMetricsAsJSON(),
    await b.ours.getMetricsAsJSON(),
  ]);
  const theirs = AggregatorRegistry.aggregate([
    await a.theirs.getMetricsAsJSON(),
    await b.theirs.getMetricsAsJSON(),
  ]);
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.match(await ours.metrics(), /^x_seconds_count\{type="write"\} 6$/m);
});

test('a reset empties it', async () => {
  const { ours, histogram } = both(OBSERVED);
  histogram.reset();
  assert.doesNotMatch(await ours.metrics(), /x_seconds_count/);
});
