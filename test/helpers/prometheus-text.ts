// Reading /metrics in tests: a strict Prometheus text format (0.0.4) parser and label-filtered sums.
import assert from 'node:assert/strict';

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is a comment (# HELP/# TYPE), blank, or
 * `name{labels} value`; anything else fails the test. Returns `name{labels}` (labels without pid) → value.
 */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        typed.add(meta[2]!);
      }
      continue;
    }
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(
        line,
      );
    assert.ok(sample, `not a Prometheus sample line: ${line}`);
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '');
    assert.ok(typed.has(sample[1]!) || typed.has(family), `sample before its TYPE: ${line}`);
    const labels = (sample[2] ?? '')
      .replace(/,?pid="\d+"/, '')
      .replace('{,', '{')
      .replace(/^\{\}$/, '');
    samples.set(`${sample[1]}${labels}`, Number(sample[3]));
  }
  return samples;
}

/** Sum of the samples of `name` whose labels contain every `labels` fragment. */
export function sum(samples: Map<string, number>, name: string, ...labels: string[]): number {
  return [...samples]
    .filter(([k]) => (k === name || k.startsWith(`${name}{`)) && labels.every((l) => k.includes(l)))
    .reduce((total, [, v]) => total + v, 0);
}
