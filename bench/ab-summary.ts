// What `npm run bench:ab` reports: each build's median over every measured round, and B against A within each pair
// of instances, so the spread between server instances shows beside the difference between the builds.

import { median } from './scenarios.js';

export type Build = 'A' | 'B';

/** One measured round: which build, which pair of instances it ran in, and the value (higher is better). */
export interface AbRound {
  readonly build: Build;
  readonly instance: number;
  readonly value: number;
}

export interface AbSummary {
  /** Median and range of every round of each build. */
  readonly a: { readonly median: number; readonly min: number; readonly max: number };
  readonly b: { readonly median: number; readonly min: number; readonly max: number };
  /** B's median over A's. */
  readonly ratio: number;
  /** Per pair of instances, B's median over A's, in instance order: how far one pair alone could mislead. */
  readonly perInstance: readonly number[];
}

function spread(values: readonly number[], build: Build) {
  if (values.length === 0) throw new Error(`no rounds of build ${build}`);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function summarize(rounds: readonly AbRound[]): AbSummary {
  const of = (build: Build, instance?: number) =>
    rounds
      .filter((r) => r.build === build && (instance === undefined || r.instance === instance))
      .map((r) => r.value);
  const a = spread(of('A'), 'A');
  const b = spread(of('B'), 'B');
  const instances = [...new Set(rounds.map((r) => r.instance))].sort((x, y) => x - y);
  const perInstance = instances
    .filter((i) => of('A', i).length > 0 && of('B', i).length > 0)
    .map((i) => median(of('B', i)) / median(of('A', i)));
  return { a, b, ratio: b.median / a.median, perInstance };
}

/**
 * The order of instance `index`'s rounds: A B B A, then B A A B for the next pair, and so on; the pair's two servers
 * are started in the order of its first round. `rounds` is rounded up to a multiple of two (as many of each).
 */
export function roundOrder(index: number, rounds: number): Build[] {
  const pattern: Build[] = index % 2 === 0 ? ['A', 'B', 'B', 'A'] : ['B', 'A', 'A', 'B'];
  const count = Math.max(2, rounds + (rounds % 2));
  return Array.from({ length: count }, (_, i) => pattern[i % 4]!);
}
