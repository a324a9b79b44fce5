// The SFTP request latency histogram: observed on every request, so counted in plain arrays and put in
// prom-client's metric shape only when scraped.
//
// prom-client's Histogram.observe validates and hashes the label object on every call: ~0.8 µs in a loop and
// ~4 µs in a serving worker here, 128 times per 4 MiB upload (docs/PERFORMANCE.md, stop 59). This one has a
// single label, the request type (a small fixed set: the request table's row names), and costs a map lookup
// and a few comparisons. Scrapes, the cluster's sum (AggregatorRegistry) and the text format are prom-client's:
// it registers as one of its metrics and answers `get()` as its Histogram does.
import type { Metric, Registry } from 'prom-client';

interface TypeCounts {
  /** Observations per bucket (not cumulative); the last slot is past the largest bound (+Inf only). */
  readonly buckets: number[];
  sum: number;
  count: number;
}

export interface RequestHistogramOptions {
  readonly name: string;
  readonly help: string;
  /** Upper bounds in seconds, ascending. */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

export class RequestHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #byType = new Map<string, TypeCounts>();

  constructor(options: RequestHistogramOptions) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = [...options.buckets];
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric);
  }

  observe(type: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let counts = this.#byType.get(type);
    if (counts === undefined) {
      counts = { buckets: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#byType.set(type, counts);
    }
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    counts.buckets[bucket]!++;
    counts.sum += seconds;
    counts.count++;
  }

  /** What prom-client's Histogram answers: cumulative buckets (`le`), then +Inf, sum and count, per type. */
  async get() {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const [type, counts] of this.#byType) {
      let cumulative = 0;
      this.#bounds.forEach((le, i) => {
        cumulative += counts.buckets[i]!;
        values.push({ value: cumulative, labels: { le, type }, metricName: `${this.name}_bucket` });
      });
      values.push({ value: counts.count, labels: { le: '+Inf', type }, metricName: `${this.name}_bucket` });
      values.push({ value: counts.sum, labels: { type }, metricName: `${this.name}_sum` });
      values.push({ value: counts.count, labels: { type }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#byType.clear();
  }
}
