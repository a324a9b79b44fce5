// Transfer quotas: bytes a user may upload, download, or move in total per UTC day or month. The spelling
// (`10GiB/day`), the periods a moment falls in, and how a limit reads back.

export const TRANSFER_KINDS = ['upload', 'download', 'total'] as const;
export type TransferKind = (typeof TRANSFER_KINDS)[number];
export const TRANSFER_PERIODS = ['day', 'month'] as const;
export type TransferPeriod = (typeof TRANSFER_PERIODS)[number];

export interface TransferLimit {
  readonly bytes: number;
  readonly period: TransferPeriod;
}

/** A kind without an entry has no limit (a user's own: their groups' applies). */
export type TransferQuotas = Readonly<Partial<Record<TransferKind, TransferLimit>>>;

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * `10GiB/day`, `500MiB/month`, `1048576/day` (also as formatTransferLimit writes them: `10 GiB/day`,
 * `100 bytes/day`); `0` or `none`: no limit (null). Throws an Error whose message
 * says what is expected.
 */
export function parseTransferLimit(text: string): TransferLimit | null {
  const value = text.trim();
  if (value === '0' || value.toLowerCase() === 'none') return null;
  const m = /^(\d+)\s*([KMGT]?)(?:i?B|bytes?)?\s*\/\s*(day|month)$/i.exec(value);
  const bytes = m ? Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1) : Number.NaN;
  if (!m || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new Error(`must be SIZE/day or SIZE/month (e.g. 10GiB/day, 500MiB/month) or 'none', got '${text}'`);
  }
  return { bytes, period: (m[3] as string).toLowerCase() as TransferPeriod };
}

/** `10 GiB/day` when the size is a whole number of a unit, else `N bytes/day`. */
export function formatTransferLimit(limit: TransferLimit): string {
  for (const [suffix, unit] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (limit.bytes % unit === 0) return `${limit.bytes / unit} ${suffix}/${limit.period}`;
  }
  return `${limit.bytes} bytes/${limit.period}`;
}

/** The UTC day (YYYY-MM-DD) a moment falls in; its month is the first 7 characters. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The key of `period` containing `at`: `2026-11-30` for a day, `2026-11` for a month. */
export function periodKey(period: TransferPeriod, at: Date): string {
  const day = utcDay(at);
  return period === 'day' ? day : day.slice(0, 7);
}

/** A valid quotas object from stored JSON (unknown kinds and malformed entries dropped: no limit). */
export function transferQuotasFrom(json: string): TransferQuotas {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const out: Partial<Record<TransferKind, TransferLimit>> = {};
  for (const kind of TRANSFER_KINDS) {
    const entry = raw[kind] as { bytes?: unknown; period?: unknown } | undefined;
    if (
      entry &&
      typeof entry.bytes === 'number' &&
      entry.bytes > 0 &&
      (TRANSFER_PERIODS as readonly unknown[]).includes(entry.period)
    ) {
      out[kind] = { bytes: entry.bytes, period: entry.period as TransferPeriod };
    }
  }
  return out;
}

/** `quotas` with the given kinds replaced (null removes one). */
export function mergeTransferQuotas(
  quotas: TransferQuotas,
  changes: Readonly<Partial<Record<TransferKind, TransferLimit | null>>>,
): TransferQuotas {
  const out: Partial<Record<TransferKind, TransferLimit>> = { ...quotas };
  for (const kind of TRANSFER_KINDS) {
    const change = changes[kind];
    if (change === undefined) continue;
    if (change === null) delete out[kind];
    else out[kind] = { bytes: change.bytes, period: change.period };
  }
  return out;
}
