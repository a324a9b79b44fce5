// `ferry rules test`: whether a rule fires for a sample event, and (when asked) its actions run once, now.
import { randomUUID } from 'node:crypto';
import type { Secret } from '../util/secret.js';
import type { ActionRunners } from './actions/index.js';
import { countedValue, describeCount } from './counting.js';
import type { EventFields } from './event-names.js';
import { matches } from './match.js';
import type { ActionOutcome, AnyRuleEventName, DeliveryRecord, RuleAction, RuleRecord } from './types.js';

/** A sample event: the rule's first event unless named, with plausible fields the caller may override. */
export function sampleFields(rule: RuleRecord, event: AnyRuleEventName | undefined, overrides: EventFields) {
  const name = event ?? rule.events[0] ?? 'upload';
  const path = overrides.path ?? '/test/sample.txt';
  const cut = path.lastIndexOf('/');
  const fields: EventFields = {
    event: name,
    at: new Date().toISOString(),
    user: 'test',
    size: '1024',
    status: 'ok',
    protocol: 'sftp',
    remoteAddress: '127.0.0.1',
    sessionId: 'rules-test',
    ...overrides,
    path,
    name: path.slice(cut + 1),
    dir: cut <= 0 ? '/' : path.slice(0, cut),
  };
  return { name, fields };
}

export interface ActionTestResult {
  readonly index: number;
  readonly action: RuleAction;
  readonly outcome: ActionOutcome;
  readonly latencyMs: number;
}

/**
 * Runs every action of `rule` once for the sample, in order, as the worker would, but outside the outbox:
 * nothing is stored and nothing is retried. File actions act on the user's files for real.
 */
export async function runRuleActions(
  rule: RuleRecord,
  eventName: AnyRuleEventName,
  fields: EventFields,
  runners: ActionRunners,
  secret: Secret<string> | undefined,
): Promise<ActionTestResult[]> {
  const results: ActionTestResult[] = [];
  const controller = new AbortController();
  for (const [index, action] of rule.actions.entries()) {
    const delivery: DeliveryRecord = {
      id: `test-${randomUUID()}`,
      ruleId: rule.id,
      ruleName: rule.name,
      actionIndex: index,
      eventName,
      fields: fields as Record<string, string>,
      status: 'running',
      attempts: 1,
      nextAttemptAt: new Date(),
      createdAt: new Date(),
    };
    const runner = runners.get(action.kind);
    const started = performance.now();
    let outcome: ActionOutcome;
    if (!runner)
      outcome = { ok: false, permanent: true, error: `this Ferry cannot run '${action.kind}' actions` };
    else {
      try {
        outcome = await runner.run(action, delivery, {
          rule,
          ...(secret !== undefined ? { secret } : {}),
          signal: controller.signal,
        });
      } catch (err) {
        outcome = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    results.push({ index, action, outcome, latencyMs: performance.now() - started });
  }
  return results;
}

/** Whether the rule fires for the sample (its events and every condition; a counting rule: counts it). */
export function ruleFires(rule: RuleRecord, eventName: AnyRuleEventName, fields: EventFields): boolean {
  return matches(rule, eventName, fields);
}

/**
 * For a counting rule whose conditions hold for the sample: whether the sample counts (an event without the
 * counted field counts toward nothing), a line saying why one event is not enough, and the sample's fields as
 * a firing would carry them (`{{count}}`, `{{within}}`, `{{key}}`, `{{since}}`), for `rules test --run`.
 */
export function countedSample(
  rule: RuleRecord,
  fields: EventFields,
): { readonly counts: boolean; readonly note: string; readonly fields: EventFields } | undefined {
  const count = rule.conditions.count;
  if (count === undefined) return undefined;
  const value = countedValue(count, fields);
  if (value === undefined) {
    const field = count.per === 'address' ? 'remoteAddress' : count.per;
    return { counts: false, note: `the event has no ${field} to count by`, fields };
  }
  const by = count.per === 'rule' ? '' : ` (here ${count.per} ${value})`;
  return {
    counts: true,
    note: `it fires once ${describeCount(count)} arrive${by}, never for one event alone`,
    fields: {
      ...fields,
      count: String(count.atLeast),
      within: count.within,
      key: value,
      since: fields.at ?? new Date().toISOString(),
    },
  };
}
