// Whether a rule matches an event: its event names and every condition (globs, protocols, size, status, CIDRs, time window).
import { BlockList, isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';
import { globToRegExp } from '../transfers/glob.js';
import { parseDuration } from './counting.js';
import type { EventFields } from './event-names.js';
import { COUNT_KEYS, type RuleConditions, type RuleCount, type RuleDefinition } from './types.js';

/** Extra facts about the event's user that are not event fields (groups, once users have them). */
export interface MatchContext {
  readonly groups?: readonly string[];
}

type Test = (fields: EventFields, context: MatchContext) => boolean;

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/**
 * A glob for names and virtual paths: `*`, `?` and `[...]` as in the shell (never crossing `/`, dots not
 * special), plus `**`, which crosses `/`: `/in/**` matches everything below /in, `/in/**\/x.csv` also /in/x.csv.
 */
export function pathGlob(pattern: string): RegExp {
  const pieces = pattern.split('**');
  let source = '';
  pieces.forEach((piece, i) => {
    let body = piece;
    if (i > 0) {
      // `a/**/b` also matches `a/b`: the `**` with its following slash may stand for no directory at all.
      if (source.endsWith('/') && body.startsWith('/')) {
        source += '(?:.*/)?';
        body = body.slice(1);
      } else source += '.*';
    }
    if (body !== '') source += globToRegExp(body).source.slice(1, -1);
  });
  return new RegExp(`^${source}$`, 'u');
}

/** Include and `!exclude` globs: some include matches (or there is none) and no exclude does. */
function globList(patterns: readonly string[], compile: (p: string) => RegExp): (value: string) => boolean {
  const include = patterns.filter((p) => !p.startsWith('!')).map(compile);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => compile(p.slice(1)));
  return (value) =>
    (include.length === 0 || include.some((re) => re.test(value))) && !exclude.some((re) => re.test(value));
}

function parseClock(text: string, what: string): number {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) throw new InvalidArgumentError(`time window ${what} '${text}' must be HH:MM (00:00 to 23:59)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Source ranges: CIDRs or single addresses, IPv4 and IPv6; an IPv4-mapped IPv6 client counts as IPv4. */
function sourceList(sources: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const source of sources) {
    const [address = '', prefix] = source.split('/');
    const family = isIP(address);
    if (family === 0) throw new InvalidArgumentError(`source '${source}' is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128))
      throw new InvalidArgumentError(`source '${source}' has a bad prefix length`);
    list.addSubnet(address, bits, type);
  }
  return (raw) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
    const address = mapped ? (mapped[1] ?? raw) : raw;
    const family = isIP(address);
    if (family === 0) return false;
    return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * A local-time window `from`-`to` (`to` excluded), wrapping midnight when `to` <= `from`, on the given weekdays.
 * The weekday is the one the window opened on: `fri 22:00-06:00` includes Saturday 02:00.
 */
function timeWindow(window: NonNullable<RuleConditions['timeWindow']>): (at: Date) => boolean {
  const from = parseClock(window.from, 'start');
  const to = parseClock(window.to, 'end');
  const days = window.days?.map((d) => {
    const day = DAYS.indexOf(d.trim().toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
    if (day < 0) throw new InvalidArgumentError(`weekday '${d}' must be one of ${DAYS.join(', ')}`);
    return day;
  });
  const wraps = to <= from;
  return (at) => {
    const minute = at.getHours() * 60 + at.getMinutes();
    let day = at.getDay();
    if (wraps) {
      if (minute >= from) {
        // opened today
      } else if (minute < to) day = (day + 6) % 7;
      else return false;
    } else if (minute < from || minute >= to) return false;
    return days === undefined || days.length === 0 || days.includes(day);
  };
}

function optionalNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The conditions as one test; throws InvalidArgumentError on a bad glob, CIDR, clock or size range, so a rule
 * is refused when saved. An absent condition always holds; one naming a field the event lacks never does.
 */
export function compileConditions(conditions: RuleConditions): Test {
  const tests: Test[] = [];
  const c = conditions;
  if (c.users?.length) {
    const test = globList(c.users, globToRegExp);
    tests.push((f) => f.user !== undefined && test(f.user));
  }
  if (c.groups?.length) {
    const test = globList(c.groups, globToRegExp);
    tests.push((_f, ctx) => (ctx.groups ?? []).some((g) => test(g)));
  }
  if (c.paths?.length) {
    const test = globList(c.paths, pathGlob);
    tests.push((f) => f.path !== undefined && test(f.path));
  }
  if (c.protocols?.length) {
    const wanted = new Set(c.protocols.map((p) => p.toLowerCase()));
    tests.push((f) => f.protocol !== undefined && wanted.has(f.protocol.toLowerCase()));
  }
  if (c.minSize !== undefined || c.maxSize !== undefined) {
    const min = c.minSize ?? 0;
    const max = c.maxSize ?? Number.POSITIVE_INFINITY;
    if (!(min >= 0) || !(max >= min))
      throw new InvalidArgumentError(`size range ${min}..${max} is empty or negative`);
    tests.push((f) => {
      const size = optionalNumber(f.size);
      return size !== undefined && size >= min && size <= max;
    });
  }
  if (c.status !== undefined) {
    const status = c.status;
    tests.push((f) => f.status === status);
  }
  if (c.sources?.length) {
    const test = sourceList(c.sources);
    tests.push((f) => f.remoteAddress !== undefined && test(f.remoteAddress));
  }
  if (c.timeWindow !== undefined) {
    const test = timeWindow(c.timeWindow);
    tests.push((f) => {
      const at = f.at !== undefined ? new Date(f.at) : new Date();
      return test(Number.isNaN(at.getTime()) ? new Date() : at);
    });
  }
  if (c.count !== undefined) checkCount(c.count);
  return (fields, context) => tests.every((t) => t(fields, context));
}

/**
 * A `count` is no test here: the outbox counts the events that pass the other conditions in the store (see
 * counting.ts). A stored one that could not be counted (edited by hand) is refused like a bad glob.
 */
function checkCount(count: RuleCount): void {
  if (!Number.isInteger(count.atLeast) || count.atLeast < 1)
    throw new InvalidArgumentError(`count threshold ${String(count.atLeast)} is not a positive whole number`);
  if (!(COUNT_KEYS as readonly string[]).includes(count.per))
    throw new InvalidArgumentError(
      `count per '${String(count.per)}' must be one of ${COUNT_KEYS.join(', ')}`,
    );
  parseDuration(count.within);
}

const compiled = new WeakMap<RuleConditions, Test>();

/**
 * True when the rule listens to `eventName` and all its conditions hold for the event's fields. Whether the
 * rule is enabled is the caller's business (`ferry rules test` asks about disabled ones too). Throws like
 * `compileConditions` on a rule whose conditions do not compile.
 */
export function matches(
  rule: Pick<RuleDefinition, 'events' | 'conditions'>,
  eventName: string,
  fields: EventFields,
  context: MatchContext = {},
): boolean {
  if (!rule.events.some((e) => e === eventName)) return false;
  let test = compiled.get(rule.conditions);
  if (!test) {
    test = compileConditions(rule.conditions);
    compiled.set(rule.conditions, test);
  }
  return test(fields, context);
}
