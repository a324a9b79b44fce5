// Turns what a person wrote (CLI flags, an import file, an API body) into a valid RuleDefinition, or one line naming the field.
import { isIP } from 'node:net';
import { Cron } from 'croner';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { formatDuration, MAX_COUNT, parseDuration } from './counting.js';
import { FILE_KINDS, HOOK_ACTIONS, PGP_KINDS, ruleActionSchema } from './rule-action-schema.js';
import { list, positiveInt, required, text } from './rule-schema-fields.js';
import {
  type AnyRuleEventName,
  COUNT_KEYS,
  PRE_OPERATION_EVENTS,
  RULE_EVENTS,
  type RuleAction,
  type RuleDefinition,
} from './types.js';

const ALL_EVENTS: readonly string[] = [...RULE_EVENTS, ...PRE_OPERATION_EVENTS];
const PRE_EVENTS: readonly string[] = PRE_OPERATION_EVENTS;
/** Events whose fields carry a virtual path a file action can work on. */
const FILE_EVENTS: readonly string[] = ['upload', 'download', 'delete', 'rename', 'mkdir', 'rmdir', 'copy'];
export const RULE_PROTOCOLS = ['sftp', 'scp', 'ssh', 'https', 'ftps'] as const;
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** A rule name is used on command lines and in the audit trail: one word, no spaces. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

const glob = () =>
  text()
    .max(1024, 'is too long')
    .refine((g) => !g.includes('\0'), 'must not contain NUL')
    .refine((g) => g !== '!', 'excludes nothing');

/** A CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address, IPv4 or IPv6. */
export function isCidr(value: string): boolean {
  const slash = value.indexOf('/');
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return false;
  if (slash < 0) return true;
  const bits = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function expandDays(spec: string, whole: string): string[] {
  const days = new Set<string>();
  for (const part of spec.toLowerCase().split(',')) {
    const [first, last, extra] = part.split('-');
    const a = WEEKDAYS.indexOf(first as (typeof WEEKDAYS)[number]);
    const b = last === undefined ? a : WEEKDAYS.indexOf(last as (typeof WEEKDAYS)[number]);
    if (a < 0 || b < 0 || extra !== undefined) {
      throw new InvalidArgumentError(
        `time window '${whole}': days must be like mon-fri or sat,sun (${WEEKDAYS.join(',')})`,
      );
    }
    // A range may wrap the week: fri-mon is fri, sat, sun, mon.
    for (let i = a; ; i = (i + 1) % 7) {
      days.add(WEEKDAYS[i] as string);
      if (i === b) break;
    }
  }
  return WEEKDAYS.filter((d) => days.has(d));
}

/** `HH:MM-HH:MM` (may wrap midnight), optionally followed by weekdays (`mon-fri`, `sat,sun`), as stored. */
export function parseTimeWindow(value: string): { from: string; to: string; days?: string[] } {
  const [span = '', daySpec, more] = value.trim().split(/\s+/);
  const [from, to, extra] = span.split('-');
  if (more !== undefined || extra !== undefined || !from || !to || !HHMM.test(from) || !HHMM.test(to)) {
    throw new InvalidArgumentError(
      `time window '${value}' must be HH:MM-HH:MM with optional days, e.g. '08:00-18:00 mon-fri'`,
    );
  }
  if (from === to) throw new InvalidArgumentError(`time window '${value}' is empty: from equals to`);
  return daySpec === undefined ? { from, to } : { from, to, days: expandDays(daySpec, value) };
}

const timeWindowSchema = z.preprocess(
  (value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return parseTimeWindow(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message, input: value });
      return value;
    }
  },
  z
    .strictObject(
      {
        from: z.string(required('HH:MM')).regex(HHMM, 'must be HH:MM'),
        to: z.string(required('HH:MM')).regex(HHMM, 'must be HH:MM'),
        days: list(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` })).optional(),
      },
      { error: "must be 'HH:MM-HH:MM [days]' or { from, to, days }" },
    )
    .refine((w) => w.from !== w.to, 'is empty: from equals to'),
);

/** `{ atLeast: 5, within: 10m, per: user }`: the window as text or seconds, stored in its shortest spelling. */
const countSchema = z.strictObject(
  {
    atLeast: z
      .number(required('a number'))
      .int('must be a whole number')
      .min(2, 'must be at least 2 (a rule without count fires on every event)')
      .max(MAX_COUNT, `must be at most ${MAX_COUNT}`),
    within: z.union([z.string(), z.number()], required("a duration like '10m'")).transform((value, ctx) => {
      try {
        return formatDuration(parseDuration(value));
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
    per: z.enum(COUNT_KEYS, { error: `must be one of ${COUNT_KEYS.join(', ')}` }).default('user'),
  },
  { error: "must be { atLeast: N, within: '10m', per: user|address|path|rule }" },
);

export const ruleConditionsSchema = z
  .strictObject({
    users: list(glob()).optional(),
    groups: list(glob()).optional(),
    paths: list(glob()).optional(),
    protocols: list(
      z.enum(RULE_PROTOCOLS, { error: `must be one of ${RULE_PROTOCOLS.join(', ')}` }),
    ).optional(),
    minSize: z.number().int('must be a whole number of bytes').min(0, 'must not be negative').optional(),
    maxSize: z.number().int('must be a whole number of bytes').min(0, 'must not be negative').optional(),
    status: z.enum(['ok', 'failed'], { error: 'must be ok or failed' }).optional(),
    sources: list(text().refine(isCidr, 'must be an IP address or CIDR, e.g. 10.0.0.0/8')).optional(),
    timeWindow: timeWindowSchema.optional(),
    count: countSchema.optional(),
  })
  .refine((c) => c.minSize === undefined || c.maxSize === undefined || c.minSize <= c.maxSize, {
    message: 'minSize is larger than maxSize',
    path: ['minSize'],
  });

const eventName = z.string(required('an event name')).refine((e) => ALL_EVENTS.includes(e), {
  error: (issue) => `unknown event '${String(issue.input)}'; known: ${ALL_EVENTS.join(', ')}`,
});

/** A rule as a person writes it; `ruleDefinitionSchema` adds the checks across fields. */
export const ruleInputSchema = z.strictObject({
  name: z.string(required('a name')).regex(NAME, 'must be 1-64 letters, digits, dots, dashes or underscores'),
  description: z.string().max(500, 'is too long').optional(),
  enabled: z.boolean().default(true),
  events: list(eventName).transform((events) => [...new Set(events)] as AnyRuleEventName[]),
  conditions: ruleConditionsSchema.default({}),
  actions: list(ruleActionSchema).max(20, 'has more than 20 actions'),
  schedule: text().optional(),
  hookTimeoutMs: z
    .number(required('a number'))
    .int('must be a whole number')
    .min(10, 'must be at least 10')
    .max(60_000, 'must be at most 60000')
    .optional(),
  onHookFailure: z.enum(['deny', 'allow'], { error: 'must be deny or allow' }).optional(),
  maxAttempts: positiveInt(100).optional(),
});
export type RuleInput = z.input<typeof ruleInputSchema>;

export const ruleDefinitionSchema = ruleInputSchema.superRefine((r, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const pre = r.events.filter((e) => PRE_EVENTS.includes(e));
  if (r.events.includes('schedule') && r.schedule === undefined) {
    issue('schedule', "is required for the event 'schedule' (a cron expression, e.g. '0 3 * * *')");
  }
  if (r.schedule !== undefined) {
    if (!r.events.includes('schedule')) issue('schedule', "is only used with the event 'schedule'");
    else {
      try {
        new Cron(r.schedule, { paused: true }).stop();
      } catch (err) {
        issue('schedule', `'${r.schedule}' is not a cron expression: ${(err as Error).message}`);
      }
    }
  }
  if (r.conditions.count !== undefined) {
    // A hook answers one operation now; a schedule tick is no event the outbox matches: neither can be counted.
    const uncounted = r.events.filter((e) => PRE_EVENTS.includes(e) || e === 'schedule');
    if (uncounted.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['conditions', 'count'],
        message: `cannot count ${uncounted.join(', ')} events`,
      });
    }
  }
  if (pre.length > 0) {
    // A hook runs synchronously and answers allow or deny: mixing it with queued deliveries would make
    // the same action both block an operation and be retried after it.
    if (pre.length !== r.events.length) {
      issue('events', `${pre.join(', ')} cannot be combined with other events in one rule`);
    }
    const other = r.actions.find((a) => !HOOK_ACTIONS.includes(a.kind));
    if (other) issue('actions', `${pre[0]} rules can only run webhook or command actions, not ${other.kind}`);
  } else {
    if (r.hookTimeoutMs !== undefined) issue('hookTimeoutMs', 'is only used by pre-* rules');
    if (r.onHookFailure !== undefined) issue('onHookFailure', 'is only used by pre-* rules');
  }
  r.actions.forEach((a, i) => {
    if (
      (FILE_KINDS as readonly string[]).includes(a.kind) ||
      (PGP_KINDS as readonly string[]).includes(a.kind)
    ) {
      const pathless = r.events.filter((e) => !FILE_EVENTS.includes(e));
      if (pathless.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['actions', i, 'kind'],
          message: `${a.kind} needs a file event (${FILE_EVENTS.join(', ')}), not ${pathless.join(', ')}`,
        });
      }
    }
  });
});

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

/** The first problem as one line naming the field: `actions[0].url: must be http:// or https://, not ftp:`. */
export function schemaError(error: z.ZodError, prefix = ''): InvalidArgumentError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${fieldPath(issue.path)}: ` : '';
  return new InvalidArgumentError(`${prefix}${where}${issue?.message ?? 'invalid rule'}`);
}

/** Validates and normalises a rule; throws InvalidArgumentError naming the first bad field. */
export function parseRuleDefinition(input: unknown, prefix = ''): RuleDefinition {
  const result = ruleDefinitionSchema.safeParse(input);
  if (!result.success) throw schemaError(result.error, prefix);
  return stripUndefined(result.data) as RuleDefinition;
}

/** Drops absent optional fields, so two spellings of one rule compare (and store) the same. */
function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, stripUndefined(v)]),
  );
}

/** A stable text of a definition (sorted keys), to tell an unchanged rule from a changed one. */
export function canonicalRule(rule: RuleDefinition): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
    );
  };
  const {
    name,
    description,
    enabled,
    events,
    conditions,
    actions,
    schedule,
    hookTimeoutMs,
    onHookFailure,
    maxAttempts,
  } = rule;
  return JSON.stringify(
    sort({
      name,
      description,
      enabled,
      events,
      conditions,
      actions,
      schedule,
      hookTimeoutMs,
      onHookFailure,
      maxAttempts,
    }),
  );
}

/** The definition part of a stored rule (what `canonicalRule` and an update take). */
export function definitionOf(rule: RuleDefinition): RuleDefinition {
  return JSON.parse(canonicalRule(rule)) as RuleDefinition;
}

/**
 * The HMAC key of a webhook secret, per Standard Webhooks: a `whsec_`-prefixed secret is base64 of the key
 * bytes; any other secret is used as given (its UTF-8 bytes). Throws on a `whsec_` secret that is not base64.
 */
export function webhookSigningKey(secret: string): Buffer {
  if (!secret.startsWith('whsec_')) return Buffer.from(secret, 'utf8');
  const body = secret.slice('whsec_'.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw new InvalidArgumentError('webhook secret: the part after whsec_ must be base64');
  }
  return Buffer.from(body, 'base64');
}

/** Checks a webhook secret before it is sealed: at least 16 key bytes (Standard Webhooks asks for 24-64). */
export function checkWebhookSecret(secret: string): void {
  const key = webhookSigningKey(secret);
  if (key.length < 16) {
    throw new InvalidArgumentError(
      `webhook secret is too short (${key.length} bytes); use at least 16, e.g. whsec_ followed by 32 random bytes in base64`,
    );
  }
  if (key.length > 512) throw new InvalidArgumentError('webhook secret is too long (over 512 bytes)');
}

/** Whether any action of the rule is a webhook (then it needs a signing secret). */
export function needsSecret(rule: { readonly actions: readonly RuleAction[] }): boolean {
  return rule.actions.some((a) => a.kind === 'webhook');
}
