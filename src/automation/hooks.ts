// Pre-operation hooks: the pre-upload, pre-download and pre-delete rules, run synchronously as the core's gate.
import { randomUUID } from 'node:crypto';
import type { PreOperationContext, PreOperationDecision, PreOperationGate } from '../core/pre-operation.js';
import type { Logger } from '../logger.js';
import { COMMANDS_OFF_ERROR, commandEnvironment, renderArgv, runCommand } from './actions/command.js';
import type { EventFields } from './event-names.js';
import { firedByRule } from './rule-session.js';
import type { AnyRuleEventName, PreOperationEventName, RuleRecord, WebhookAction } from './types.js';

export const DEFAULT_HOOK_TIMEOUT_MS = 5000;
/** A hook command past its deadline gets this long after SIGTERM: the client is waiting. */
const HOOK_KILL_GRACE_MS = 100;
/** Upper bounds (ms) of the latency histogram's buckets; the last bucket holds everything slower. */
export const HOOK_LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

/** The enabled rules listening to an event (the rule cache's `forEvent`), from memory. */
export interface HookRules {
  forEvent(event: AnyRuleEventName): readonly RuleRecord[];
}

/** What a webhook answered (automation/actions/webhook.ts's `sendWebhook` fits). */
export type SendWebhook = (
  action: WebhookAction,
  message: {
    readonly id: string;
    readonly eventName: AnyRuleEventName;
    readonly fields: Readonly<Record<string, string>>;
  },
  secret: string | undefined,
  signal: AbortSignal,
) => Promise<{
  readonly ok: boolean;
  readonly responseCode?: number;
  readonly output?: string;
  readonly error?: string;
}>;

export interface HookGateDeps {
  readonly rules: HookRules;
  /** Whether a rule's conditions hold (match.ts's `matches`); the rule's events are checked there too. */
  readonly matches?: (rule: RuleRecord, eventName: string, fields: EventFields) => boolean;
  /** config `rules.commands`: off, a command hook fails (and so denies, by default). */
  readonly commandsEnabled: boolean;
  readonly sendWebhook?: SendWebhook;
  /** The rule's webhook secret, unsealed. */
  readonly secretOf?: (rule: RuleRecord) => Promise<string | undefined>;
  readonly log: Logger;
}

/** Counts of hook checks by latency, for metrics; `count` and `sumMs` as in a Prometheus histogram. */
export class LatencyHistogram {
  readonly buckets: number[] = HOOK_LATENCY_BUCKETS_MS.map(() => 0);
  overflow = 0;
  count = 0;
  sumMs = 0;

  observe(ms: number): void {
    this.count++;
    this.sumMs += ms;
    const i = HOOK_LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
    if (i < 0) this.overflow++;
    else this.buckets[i] = (this.buckets[i] ?? 0) + 1;
  }
}

type Verdict =
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny'; readonly reason: string }
  | { readonly kind: 'failed'; readonly error: string; readonly timedOut?: boolean };

export interface HookGate extends PreOperationGate {
  readonly latency: LatencyHistogram;
}

/**
 * The core's pre-operation gate over the rules. Each enabled rule on `pre-<op>` whose conditions hold runs its
 * actions in order, within the rule's `hookTimeoutMs` (one deadline for all of them): a command allows with
 * exit status 0 and denies otherwise (its first output line is the reason); a webhook allows with a 2xx answer
 * unless its JSON body says `{"allow": false, "reason": "…"}`, and denies with 403. A timeout, a failure
 * (no such program, commands off, a 5xx, an unreachable URL) or an action that cannot answer (mail, move) is
 * a failure: the rule's `onHookFailure` decides, deny by default. The first deny refuses the operation. Rules
 * run one after another in the cache's order, so the latency is bounded by the sum of the matching rules'
 * timeouts; every check is timed into `latency` and logged. A rule's own file actions never ask it again
 * (rule-session.ts). With no rule on the event, a check is one map lookup.
 */
export function createHookGate(deps: HookGateDeps): HookGate {
  const latency = new LatencyHistogram();
  const matches = deps.matches ?? localMatches;
  return {
    latency,
    async check(op, context) {
      const eventName: PreOperationEventName = `pre-${op}`;
      const candidates = deps.rules.forEvent(eventName);
      if (candidates.length === 0) return { allow: true };
      const started = performance.now();
      const fields = fieldsOf(eventName, context);
      let decision: PreOperationDecision = { allow: true };
      for (const rule of candidates) {
        if (!rule.enabled || firedByRule(rule.name, context.sessionId) || !matches(rule, eventName, fields))
          continue;
        const verdict = await runRule(deps, rule, eventName, fields);
        const refused = verdictToDecision(rule, verdict);
        if (verdict.kind === 'failed') {
          deps.log.warn(
            { rule: rule.name, op, path: context.path, error: verdict.error, refused: !refused.allow },
            'pre-operation hook failed',
          );
        }
        if (!refused.allow) {
          decision = refused;
          break;
        }
      }
      const ms = performance.now() - started;
      latency.observe(ms);
      deps.log.debug(
        { op, path: context.path, user: context.user, ms: Math.round(ms), allow: decision.allow },
        'pre-operation hooks',
      );
      return decision;
    },
  };
}

function verdictToDecision(rule: RuleRecord, verdict: Verdict): PreOperationDecision {
  switch (verdict.kind) {
    case 'allow':
      return { allow: true };
    case 'deny':
      return { allow: false, rule: rule.name, reason: verdict.reason };
    case 'failed':
      return rule.onHookFailure === 'allow'
        ? { allow: true }
        : { allow: false, rule: rule.name, reason: `hook failed: ${verdict.error}` };
  }
}

async function runRule(
  deps: HookGateDeps,
  rule: RuleRecord,
  eventName: PreOperationEventName,
  fields: EventFields,
): Promise<Verdict> {
  const timeoutMs = rule.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS;
  const deadline = performance.now() + timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  for (const action of rule.actions) {
    const left = Math.max(1, Math.round(deadline - performance.now()));
    let verdict: Verdict;
    try {
      verdict = await runAction(deps, rule, action, eventName, fields, left, timeout);
      // The rule's timeout is what the operator set and reads in the audit trail, not what was left of it.
      if (verdict.kind === 'failed' && verdict.timedOut)
        verdict = { kind: 'failed', error: `timed out after ${timeoutMs} ms` };
    } catch (err) {
      verdict = { kind: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
    if (verdict.kind !== 'allow') return verdict;
  }
  return { kind: 'allow' };
}

async function runAction(
  deps: HookGateDeps,
  rule: RuleRecord,
  action: RuleRecord['actions'][number],
  eventName: PreOperationEventName,
  fields: EventFields,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Verdict> {
  switch (action.kind) {
    case 'command': {
      if (!deps.commandsEnabled) return { kind: 'failed', error: COMMANDS_OFF_ERROR };
      const env = commandEnvironment(fields, { FERRY_RULE: rule.name });
      const result = await runCommand(renderArgv(action.argv, fields), env, {
        timeoutMs,
        signal,
        killGraceMs: HOOK_KILL_GRACE_MS,
      });
      if (result.spawnError !== undefined)
        return { kind: 'failed', error: `cannot run: ${result.spawnError}` };
      if (result.timedOut || signal.aborted)
        return { kind: 'failed', error: `timed out after ${timeoutMs} ms`, timedOut: true };
      if (result.exitCode === 0) return { kind: 'allow' };
      const said = result.output.split('\n')[0]?.trim().slice(0, 200);
      return {
        kind: 'deny',
        reason:
          said ||
          (result.exitCode === undefined ? `ended by ${result.signal}` : `exit status ${result.exitCode}`),
      };
    }
    case 'webhook': {
      if (!deps.sendWebhook) return { kind: 'failed', error: 'webhook hooks are not available' };
      const secret = await deps.secretOf?.(rule);
      const answer = await deps.sendWebhook(
        action,
        { id: `hook-${randomUUID()}`, eventName, fields: fields as Record<string, string> },
        secret,
        signal,
      );
      const body = parseAnswer(answer.output);
      if (answer.responseCode === 403)
        return { kind: 'deny', reason: body?.reason ?? 'refused by the webhook (403)' };
      if (!answer.ok) {
        if (signal.aborted)
          return { kind: 'failed', error: `timed out after ${timeoutMs} ms`, timedOut: true };
        return { kind: 'failed', error: answer.error ?? `HTTP ${answer.responseCode}` };
      }
      if (body?.allow === false) return { kind: 'deny', reason: body.reason ?? 'refused by the webhook' };
      return { kind: 'allow' };
    }
    default:
      return { kind: 'failed', error: `an action of kind ${action.kind} cannot answer a pre-operation hook` };
  }
}

/** A webhook's JSON answer, when it is one: `{"allow": false, "reason": "…"}`. */
function parseAnswer(output: string | undefined): { allow?: unknown; reason?: string } | undefined {
  if (!output?.trimStart().startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(output) as { allow?: unknown; reason?: unknown };
    return {
      allow: parsed.allow,
      ...(typeof parsed.reason === 'string' ? { reason: parsed.reason.slice(0, 200) } : {}),
    };
  } catch {
    return undefined;
  }
}

function fieldsOf(eventName: PreOperationEventName, context: PreOperationContext): EventFields {
  const cut = context.path.lastIndexOf('/');
  return {
    event: eventName,
    at: new Date().toISOString(),
    user: context.user,
    path: context.path,
    name: context.path.slice(cut + 1),
    dir: cut <= 0 ? '/' : context.path.slice(0, cut),
    ...(context.size !== undefined ? { size: String(context.size) } : {}),
    protocol: context.protocol,
    remoteAddress: context.remoteAddress,
    sessionId: context.sessionId,
  };
}

/**
 * A stand-in for match.ts until it is wired: the rule's events, user and path globs (`!` excludes, `**`
 * crosses `/`), protocols and size. Other conditions (groups, sources, time windows, status) are not checked
 * here, so such a rule applies more widely: for a hook that denies, the safe side.
 */
export function localMatches(rule: RuleRecord, eventName: string, fields: EventFields): boolean {
  if (!rule.events.some((e) => e === eventName)) return false;
  const c = rule.conditions;
  if (c.users && !globList(c.users, fields.user ?? '')) return false;
  if (c.paths && !globList(c.paths, fields.path ?? '')) return false;
  if (c.protocols && !c.protocols.includes(fields.protocol ?? '')) return false;
  const size = fields.size === undefined ? undefined : Number(fields.size);
  if (size !== undefined && c.minSize !== undefined && size < c.minSize) return false;
  if (size !== undefined && c.maxSize !== undefined && size > c.maxSize) return false;
  return true;
}

function globList(globs: readonly string[], value: string): boolean {
  const include = globs.filter((g) => !g.startsWith('!'));
  const exclude = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  if (exclude.some((g) => glob(g).test(value))) return false;
  return include.length === 0 || include.some((g) => glob(g).test(value));
}

function glob(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith('**/', i)) {
      out += '(?:.*/)?';
      i += 2;
    } else if (pattern.startsWith('**', i)) {
      out += '.*';
      i += 1;
    } else if (pattern[i] === '*') out += '[^/]*';
    else if (pattern[i] === '?') out += '[^/]';
    else out += pattern[i]!.replace(/[\\^$.+()[\]{}|/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'su');
}
