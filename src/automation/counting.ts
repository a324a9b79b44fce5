// Counting rules ("5 failed logins for one user within 10 minutes"): what an event counts toward, the window, the hit.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { EventFields } from './event-names.js';
import type { CounterHit, CountKey, NewDelivery, RuleCount } from './types.js';

/**
 * Keys one counting rule holds at once. A client spraying fresh user names (or paths) makes a key per name; past
 * this many the least recently hit keys are dropped, so the table stays bounded (10,000 rows a rule, each at most
 * `atLeast - 1` times). Keys whose window has passed are dropped first, whenever a new key arrives.
 */
export const MAX_COUNTER_KEYS_PER_RULE = 10_000;
/** The largest threshold: a key's row holds up to this many times. */
export const MAX_COUNT = 1000;
/** The longest window: 30 days. */
export const MAX_WITHIN_SECONDS = 30 * 86_400;
/** Longer counted values (a path, a hostile user name) are stored as their SHA-256. */
const MAX_KEY_VALUE = 256;

const UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** `90s`, `10m`, `2h`, `1d` (or a number of seconds) as seconds; throws InvalidArgumentError naming the form. */
export function parseDuration(value: string | number): number {
  let seconds: number;
  if (typeof value === 'number') seconds = value;
  else {
    const m = /^(\d{1,7})\s*([smhd])$/.exec(value.trim().toLowerCase());
    const unit = UNITS.find(([u]) => u === m?.[2]);
    if (!m || !unit) {
      throw new InvalidArgumentError(
        `'${value}' is not a duration; use a whole number and s, m, h or d, e.g. 90s, 10m, 2h, 1d`,
      );
    }
    seconds = Number(m[1]) * unit[1];
  }
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_WITHIN_SECONDS) {
    throw new InvalidArgumentError(
      `a window of ${value} is out of range: 1s to ${MAX_WITHIN_SECONDS / 86_400}d`,
    );
  }
  return seconds;
}

/** Seconds in their shortest exact spelling: 600 → `10m`, 90 → `90s`, 5400 → `90m`, 86400 → `1d`. */
export function formatDuration(seconds: number): string {
  const [unit, size] = UNITS.find(([, size]) => seconds % size === 0) ?? ['s', 1];
  return `${seconds / size}${unit}`;
}

/** The event field each `per` counts by; `rule` counts every matching event together. */
const COUNTED_FIELD: Readonly<Record<CountKey, keyof EventFields | undefined>> = {
  user: 'user',
  address: 'remoteAddress',
  path: 'path',
  rule: undefined,
};

/**
 * The value an event counts toward, or undefined when it lacks the counted field (a login-failed without a
 * user name): such an event counts toward nothing, like a condition on a field the event lacks never holds.
 */
export function countedValue(count: RuleCount, fields: EventFields): string | undefined {
  const field = COUNTED_FIELD[count.per];
  if (field === undefined) return '';
  const value = fields[field];
  if (value === undefined || value === '') return undefined;
  // One client is one address whether it came over IPv4 or as IPv4-mapped IPv6.
  return count.per === 'address' ? value.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1') : value;
}

/** The counter's key in the store: `user:alice`; a long value is stored as its hash, never truncated. */
export function counterKey(per: CountKey, value: string): string {
  return value.length <= MAX_KEY_VALUE
    ? `${per}:${value}`
    : `${per}#sha256:${createHash('sha256').update(value).digest('hex')}`;
}

/** When the event happened (its `at`), or `now` when it carries no valid time. */
function eventTime(fields: EventFields, now: Date): Date {
  const at = fields.at !== undefined ? new Date(fields.at) : now;
  return Number.isNaN(at.getTime()) ? now : at;
}

/**
 * The store hit for one event that matched a counting rule, or undefined when the event counts toward nothing.
 * `deliveries(extra)` makes the rule's rows with `extra` fields: `{{count}}`, `{{within}}`, `{{key}}`, `{{since}}`.
 */
export function counterHit(
  rule: { readonly id: number; readonly conditions: { readonly count?: RuleCount } },
  fields: EventFields,
  now: Date,
  deliveries: (extra: EventFields) => NewDelivery[],
): CounterHit | undefined {
  const count = rule.conditions.count;
  if (count === undefined) return undefined;
  const value = countedValue(count, fields);
  if (value === undefined) return undefined;
  return {
    ruleId: rule.id,
    key: counterKey(count.per, value),
    at: eventTime(fields, now),
    atLeast: count.atLeast,
    withinMs: parseDuration(count.within) * 1000,
    maxKeys: MAX_COUNTER_KEYS_PER_RULE,
    fire: (n, since) =>
      deliveries({ count: String(n), within: count.within, key: value, since: since.toISOString() }),
  };
}

/** `5 events within 10m for one user`, as `rules show` and `rules test` say it. */
export function describeCount(count: RuleCount): string {
  return `${count.atLeast} events within ${count.within} ${count.per === 'rule' ? 'in all' : `for one ${count.per}`}`;
}
