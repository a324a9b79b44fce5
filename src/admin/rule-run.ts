// A rule's actions run once, now, for a sample event (`ferry rules test --run`, POST /api/rules/{name}/test with
// `run`): outside the outbox, so nothing is queued or retried, but webhooks are sent and files moved for real.
import { countedSample, runRuleActions } from '../automation/rule-test.js';
import { loggers } from '../logger.js';
import { effectiveUserLookup } from '../store/effective-user.js';
import type { RuleRecord } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import type { AdminDeps } from './deps.js';
import { type RuleSample, ruleDryRun } from './rule-views.js';

export interface RuleRunResult {
  /** The action's position in the rule, from 1. */
  readonly action: number;
  readonly kind: string;
  readonly ok: boolean;
  readonly responseCode: number | null;
  readonly error: string | null;
  readonly latencyMs: number;
}

/** Whether the sample fires the rule (a counting rule: counts it, with why one event is not enough). */
export function sampleOutcome(rule: RuleRecord, sample: RuleSample) {
  const dry = ruleDryRun(rule, sample);
  const counted = dry.fires ? countedSample(rule, dry.fields) : undefined;
  const fires = dry.fires && counted?.counts !== false;
  return {
    dry,
    fires,
    counted: counted ? { counts: counted.counts, note: counted.note } : undefined,
    // A counting rule's firing carries {{count}}, {{within}}, {{key}}, {{since}}: the run gets them too.
    fields: counted?.fields ?? dry.fields,
  };
}

/** Runs every action of `rule` once with `fields`, with the server's runners and the rule's own secret. */
export async function runRuleOnce(
  deps: Pick<AdminDeps, 'config' | 'store' | 'paths' | 'masterKey' | 'transfers' | 'fileSessions'>,
  rule: RuleRecord,
  eventName: string,
  fields: Record<string, string>,
): Promise<RuleRunResult[]> {
  // Loaded here: only a test run needs the runners (and their mail transport) outside the server.
  const { createActionRunners } = await import('../automation/actions/index.js');
  const { ruleSecretUnsealer } = await import('../automation/index.js');
  const sealed = rule.hasSecret ? await deps.store.rules.sealedSecret(rule.id) : undefined;
  const secret: Secret<string> | undefined =
    sealed === undefined
      ? undefined
      : ruleSecretUnsealer((s, label) => deps.masterKey.open(s, label))(sealed);
  const set = createActionRunners({
    log: loggers.automation,
    server: {
      config: deps.config,
      users: effectiveUserLookup(deps.store),
      homesDir: deps.paths.homes,
      fileSessions: deps.fileSessions,
      jobs: deps.transfers.jobs,
    },
  });
  try {
    const results = await runRuleActions(
      rule,
      eventName as Parameters<typeof runRuleActions>[1],
      fields,
      set.runners,
      secret,
    );
    return results.map((r) => ({
      action: r.index + 1,
      kind: r.action.kind,
      ok: r.outcome.ok,
      responseCode: r.outcome.responseCode ?? null,
      error: r.outcome.ok ? null : (r.outcome.error ?? 'failed'),
      latencyMs: Math.round(r.latencyMs),
    }));
  } finally {
    await set.close();
  }
}
