// Turns measurements into the stdout table and the JSON record (medians, ratios, targets, every run).
import { type Measurement, median, type Target } from './scenarios.js';

export interface Row {
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly ferry: number;
  readonly openssh: number;
  /** Ferry / OpenSSH of the medians; of a paired measurement, the median of each pair's ratio. */
  readonly ratio: number;
  readonly paired?: boolean;
  readonly target?: string;
  readonly met?: boolean;
  readonly runs: Measurement['runs'];
  readonly extra?: Measurement['extra'];
}

function describeTarget(target: Target): string {
  switch (target.kind) {
    case 'ratio-at-least':
      return `≥ ${Number(target.value.toFixed(2))}×`;
    case 'ratio-at-most':
      return `≤ ${Number(target.value.toFixed(2))}×`;
    case 'ferry-at-most':
      return `Ferry ≤ ${target.value}`;
  }
}

function meets(target: Target, ferry: number, ratio: number): boolean {
  switch (target.kind) {
    case 'ratio-at-least':
      return ratio >= target.value;
    case 'ratio-at-most':
      return ratio <= target.value;
    case 'ferry-at-most':
      return ferry <= target.value;
  }
}

export function toRow(m: Measurement): Row {
  const ferry = median(m.runs.ferry);
  const openssh = median(m.runs.openssh);
  const ratio = m.paired
    ? median(m.runs.ferry.map((value, i) => value / m.runs.openssh[i]!))
    : ferry / openssh;
  return {
    id: m.id,
    label: m.label,
    unit: m.unit,
    better: m.better,
    ferry,
    openssh,
    ratio,
    ...(m.paired ? { paired: true } : {}),
    ...(m.target ? { target: describeTarget(m.target), met: meets(m.target, ferry, ratio) } : {}),
    runs: m.runs,
    ...(m.extra ? { extra: m.extra } : {}),
  };
}

function figure(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** The median with the range of the runs beside it, when there was more than one: the spread is part of the figure. */
function withSpread(value: number, runs: readonly number[]): string {
  if (runs.length < 2) return figure(value);
  return `${figure(value)} (${figure(Math.min(...runs))}–${figure(Math.max(...runs))})`;
}

/** Ferry / OpenSSH, or a dash for Ferry-only rows (start-up has no sshd counterpart). */
function ratioText(ratio: number, paired = false): string {
  if (!Number.isFinite(ratio)) return '—';
  return `${ratio.toFixed(2)}×${paired ? ' (pairs)' : ''}`;
}

/** A Markdown table (readable on a terminal, pasteable into docs/PERFORMANCE.md). */
export function formatTable(rows: readonly Row[]): string {
  const header = [
    'measurement',
    'unit',
    'Ferry (range)',
    'OpenSSH (range)',
    'Ferry/OpenSSH',
    'target',
    'met',
  ];
  const body = rows.flatMap((r) => {
    const main = [
      r.label,
      r.unit,
      withSpread(r.ferry, r.runs.ferry),
      withSpread(r.openssh, r.runs.openssh),
      ratioText(r.ratio, r.paired),
      r.target ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : 'no',
    ];
    const extras = Object.entries(r.extra ?? {}).map(([unit, v]) => [
      `  (same, ${unit})`,
      unit,
      figure(v.ferry),
      figure(v.openssh),
      ratioText(v.ferry / v.openssh),
      '',
      '',
    ]);
    return [main, ...extras];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
