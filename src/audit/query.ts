// Reading the trail: filtered, paged (keyset on seq) iteration and the output formats of tail, query and export.
import { InvalidArgumentError } from '../errors.js';
import type { AuditAction, AuditRecord, AuditRepository } from '../store/types.js';
import { toExportRecord } from './chain.js';

export interface AuditFilter {
  readonly user?: string;
  readonly actions?: readonly AuditAction[];
  /** ISO timestamps: since inclusive, until exclusive. */
  readonly since?: string;
  readonly until?: string;
  /** Matched against path and target (rename destination, link target). */
  readonly pathGlob?: string;
  readonly afterSeq?: number;
  readonly throughSeq?: number;
}

/** Rows fetched per query: bounded memory whatever the size of the trail. */
const PAGE_SIZE = 500;

/**
 * Shell-style glob over virtual paths: `*` and `?` stay within one path component, `**` crosses
 * components, `[...]` is a character class. Anchored at both ends.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) throw new InvalidArgumentError(`unclosed [ in path pattern ${glob}`);
      const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
      re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Streams matching records in seq order, one page in memory at a time. */
export async function* iterateAudit(
  repository: AuditRepository,
  filter: AuditFilter,
): AsyncGenerator<AuditRecord> {
  const pattern = filter.pathGlob !== undefined ? globToRegExp(filter.pathGlob) : undefined;
  let afterSeq = filter.afterSeq;
  for (;;) {
    const page = await repository.page({
      ...(afterSeq !== undefined ? { afterSeq } : {}),
      ...(filter.throughSeq !== undefined ? { throughSeq: filter.throughSeq } : {}),
      ...(filter.user !== undefined ? { user: filter.user } : {}),
      ...(filter.actions !== undefined ? { actions: filter.actions } : {}),
      ...(filter.since !== undefined ? { since: filter.since } : {}),
      ...(filter.until !== undefined ? { until: filter.until } : {}),
      limit: PAGE_SIZE,
    });
    for (const record of page) {
      if (
        !pattern ||
        (record.path !== null && pattern.test(record.path)) ||
        (record.target !== null && pattern.test(record.target))
      ) {
        yield record;
      }
    }
    if (page.length < PAGE_SIZE) return;
    afterSeq = page[page.length - 1]!.seq;
  }
}

/** One JSON object per line with every chain field: `ferry audit verify --file` can check it offline. */
export function formatJsonLine(record: AuditRecord): string {
  return JSON.stringify(toExportRecord(record));
}

export const CSV_COLUMNS = [
  'seq',
  'at',
  'action',
  'user',
  'sessionId',
  'address',
  'protocol',
  'path',
  'target',
  'result',
  'reason',
  'detail',
  'prevHash',
  'hash',
  // Last, so readers of the columns before it are undisturbed; empty for records not written by a node.
  'node',
] as const;

function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 row; detail stays its canonical JSON text. */
export function formatCsvRow(record: AuditRecord): string {
  return CSV_COLUMNS.map((column) => csvCell(record[column])).join(',');
}

function describeDetail(record: AuditRecord): string {
  let detail: Record<string, unknown>;
  try {
    detail = JSON.parse(record.detail) as Record<string, unknown>;
  } catch {
    return record.detail;
  }
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/**
 * One human-readable line: `#seq time action user@address path [-> target] result (reason) details [node]`.
 */
export function formatRecordLine(record: AuditRecord): string {
  const who = record.user ?? '-';
  const where = record.address ? `${who}@${record.address}` : who;
  const what =
    record.path !== null
      ? `${record.path}${record.target !== null ? ` -> ${record.target}` : ''}`
      : (record.target ?? '');
  const outcome = record.reason !== null ? `${record.result} (${record.reason})` : record.result;
  const node = record.node !== undefined ? `[${record.node}]` : '';
  return [
    `#${record.seq}`,
    record.at,
    record.action.padEnd(10),
    where,
    what,
    outcome,
    describeDetail(record),
    node,
  ]
    .filter((part) => part !== '')
    .join('  ');
}
