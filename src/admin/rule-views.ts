// How deliveries and rule dry runs are shown by every front end (the CLI's --json and the REST API).
import type { EventFields } from '../automation/event-names.js';
import { ruleFires, sampleFields } from '../automation/rule-test.js';
import { InvalidArgumentError } from '../errors.js';
import {
  type AnyRuleEventName,
  type DeliveryAttempt,
  type DeliveryRecord,
  PRE_OPERATION_EVENTS,
  RULE_EVENTS,
  type RuleAction,
  type RuleRecord,
} from '../store/automation-types.js';

/** A delivery with every attempt, as `rules deliveries` shows it. */
export interface DeliveryHistory {
  readonly delivery: DeliveryRecord;
  readonly attempts: readonly DeliveryAttempt[];
}

export function attemptView(a: DeliveryAttempt) {
  return {
    attempt: a.attempt,
    at: a.at.toISOString(),
    ok: a.ok,
    latencyMs: a.latencyMs,
    responseCode: a.responseCode ?? null,
    error: a.error ?? null,
    output: a.output ?? null,
  };
}

export function deliveryView({ delivery: d, attempts }: DeliveryHistory) {
  return {
    id: d.id,
    rule: d.ruleName,
    action: d.actionIndex + 1,
    event: d.eventName,
    status: d.status,
    attempts: d.attempts,
    created: d.createdAt.toISOString(),
    nextAttempt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
    finished: d.finishedAt?.toISOString() ?? null,
    lastError: d.lastError ?? null,
    fields: d.fields,
    history: attempts.map(attemptView),
  };
}
export type DeliveryView = ReturnType<typeof deliveryView>;

/** The sample event of a dry run; each field left out takes the sample's default. */
export interface RuleSample {
  readonly event?: string;
  readonly user?: string;
  readonly path?: string;
  readonly size?: number;
  readonly status?: 'ok' | 'failed';
  readonly protocol?: string;
  readonly source?: string;
}

const EVENTS: readonly string[] = [...RULE_EVENTS, ...PRE_OPERATION_EVENTS];

/** Whether `rule` fires for the sample, and the actions it would run (nothing runs, nothing is stored). */
export function ruleDryRun(rule: RuleRecord, sample: RuleSample) {
  if (sample.event !== undefined && !EVENTS.includes(sample.event))
    throw new InvalidArgumentError(`event: unknown event '${sample.event}'; known: ${EVENTS.join(', ')}`);
  if (sample.path !== undefined && !sample.path.startsWith('/'))
    throw new InvalidArgumentError(`path: must be a virtual path starting with /: ${sample.path}`);
  const overrides: EventFields = {};
  if (sample.user !== undefined) overrides.user = sample.user;
  if (sample.path !== undefined) overrides.path = sample.path;
  if (sample.size !== undefined) overrides.size = String(sample.size);
  if (sample.status !== undefined) overrides.status = sample.status;
  if (sample.protocol !== undefined) overrides.protocol = sample.protocol;
  if (sample.source !== undefined) overrides.remoteAddress = sample.source;
  const { name, fields } = sampleFields(rule, sample.event as AnyRuleEventName | undefined, overrides);
  const fires = ruleFires(rule, name, fields);
  return {
    rule: rule.name,
    enabled: rule.enabled,
    event: name,
    fields: { ...fields } as Record<string, string>,
    fires,
    wouldRun: fires ? rule.actions.map((a: RuleAction) => ({ ...a })) : [],
  };
}
export type RuleDryRun = ReturnType<typeof ruleDryRun>;
