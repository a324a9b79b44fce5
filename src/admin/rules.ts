// Rules (events → conditions → actions) and their deliveries: define, change, import, redeliver; one admin event per change.
import { z } from 'zod';
import {
  canonicalRule,
  checkWebhookSecret,
  definitionOf,
  needsSecret,
  parseRuleDefinition,
  type RuleInput,
} from '../automation/rule-schema.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type {
  DeliveryRecord,
  DeliveryStatus,
  RuleDefinition,
  RuleRecord,
} from '../store/automation-types.js';
import type { Secret } from '../util/secret.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';
import { resolvePgpKeys } from './rule-pgp-keys.js';
import { type RuleRunResult, runRuleOnce, sampleOutcome } from './rule-run.js';
import { type DeliveryHistory, type RuleSample, ruleDryRun } from './rule-views.js';
import { parseRulesFile, type RulesFileFormat } from './rules-file.js';

/** The master key label a webhook secret is sealed under (a sealed value cannot be moved to another use). */
export const RULE_SECRET_LABEL = 'rule-secret';

export type { DeliveryHistory, RuleInput };

/** A change to a rule: a field given replaces it, null removes it; `conditions` are patched one by one. */
export interface RulePatch {
  readonly description?: string | null;
  readonly events?: readonly string[];
  readonly conditions?: Readonly<Record<string, unknown>>;
  readonly actions?: readonly unknown[];
  readonly schedule?: string | null;
  readonly hookTimeoutMs?: number | null;
  readonly onHookFailure?: 'deny' | 'allow' | null;
  readonly maxAttempts?: number | null;
}

const patchSchema = z.strictObject({
  description: z.unknown().optional(),
  events: z.unknown().optional(),
  conditions: z.record(z.string(), z.unknown()).optional(),
  actions: z.unknown().optional(),
  schedule: z.unknown().optional(),
  hookTimeoutMs: z.unknown().optional(),
  onHookFailure: z.unknown().optional(),
  maxAttempts: z.unknown().optional(),
});

export const deliveryQuerySchema = z.strictObject({
  rule: z.string().min(1).optional(),
  status: z.enum(['pending', 'running', 'succeeded', 'dead']).optional(),
  failed: z.boolean().optional(),
  limit: z.number().int().min(1).max(10_000).default(50),
  /** Oldest first instead of newest first. */
  oldestFirst: z.boolean().optional(),
  /** Only deliveries after this one in the listing's order (the last of the previous page). */
  after: z.strictObject({ createdAt: z.date(), id: z.string().min(1).max(100) }).optional(),
});
export type DeliveryQueryInput = z.input<typeof deliveryQuerySchema>;

/** A rule as lists, `show` and events present it: never the secret, only whether there is one. */
export function ruleView(r: RuleRecord) {
  return {
    name: r.name,
    ...(r.description !== undefined ? { description: r.description } : {}),
    enabled: r.enabled,
    events: [...r.events],
    ...(r.schedule !== undefined ? { schedule: r.schedule } : {}),
    conditions: definitionOf(r).conditions,
    actions: definitionOf(r).actions,
    ...(r.hookTimeoutMs !== undefined ? { hookTimeoutMs: r.hookTimeoutMs } : {}),
    ...(r.onHookFailure !== undefined ? { onHookFailure: r.onHookFailure } : {}),
    ...(r.maxAttempts !== undefined ? { maxAttempts: r.maxAttempts } : {}),
    secret: r.hasSecret ? '(set)' : 'none',
    created: r.createdAt.toISOString(),
    updated: r.updatedAt.toISOString(),
  };
}
export type RuleView = ReturnType<typeof ruleView>;

export interface ImportReport {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly unchanged: readonly string[];
}

export interface ImportOptions {
  /** Picked from the file name by the caller; JSON is also read as YAML. */
  readonly format?: RulesFileFormat;
  /** The file's name, for messages and the admin event. */
  readonly source?: string;
  /** Where `secretEnv: NAME` of a rule is looked up (the CLI passes process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** 'inline' (a file sent over HTTP): rules carry their own `secret`, and `secretEnv` is refused. */
  readonly secrets?: 'env' | 'inline';
}

const subject = (name: string) => `rule ${name}`;

/** What an event records about a definition: the definition without secrets (it never holds one). */
function eventView(rule: RuleDefinition, hasSecret: boolean) {
  return { ...definitionOf(rule), secret: hasSecret ? '(set)' : 'none' };
}

export class RuleAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  get #rules() {
    return this.#deps.store.rules;
  }

  list(): Promise<RuleRecord[]> {
    return this.#rules.list();
  }

  async get(name: string): Promise<RuleRecord> {
    const rule = await this.#rules.get(name);
    if (!rule) throw new NotFoundError(`no rule named ${name}`);
    return rule;
  }

  async add(actor: Actor, input: RuleInput, secret?: Secret<string>): Promise<RuleRecord> {
    checkActor(actor);
    const rule = await this.#checkReferences(parseRuleDefinition(input));
    const sealed = this.#sealSecret(rule, secret, false);
    if ((await this.#rules.get(rule.name)) !== undefined) {
      throw new InvalidArgumentError(`a rule named ${rule.name} exists; change it with ferry rules set`);
    }
    const record = await this.#rules.create(rule, sealed ?? null);
    await this.#record.record(actor, 'rules.add', subject(rule.name), eventView(rule, record.hasSecret));
    return record;
  }

  /**
   * Changes a rule; `secret` replaces the webhook secret (null removes it). Returns the rule and the fields
   * that changed; no change, no event.
   */
  async set(
    actor: Actor,
    name: string,
    patch: RulePatch,
    newSecret?: Secret<string> | null,
  ): Promise<{ rule: RuleRecord; changed: string[] }> {
    checkActor(actor);
    const p = parseInput(patchSchema, patch);
    const before = await this.get(name);
    const merged: Record<string, unknown> = { ...definitionOf(before) };
    for (const [key, value] of Object.entries(p)) {
      if (key === 'conditions' || value === undefined) continue;
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    if (p.conditions) {
      const conditions: Record<string, unknown> = { ...before.conditions };
      for (const [key, value] of Object.entries(p.conditions)) {
        if (value === null) delete conditions[key];
        else if (value !== undefined) conditions[key] = value;
      }
      merged.conditions = conditions;
    }
    const rule = await this.#checkReferences(parseRuleDefinition(merged));
    // The same secret again is no change (a script re-running `rules set --secret-stdin`).
    const secret =
      newSecret && before.hasSecret && (await this.#sameSecret(before, newSecret)) ? undefined : newSecret;
    const sealed = secret === null ? null : this.#sealSecret(rule, secret, before.hasSecret);
    if (secret === null && needsSecret(rule)) {
      throw new InvalidArgumentError('a webhook action needs its signing secret; it cannot be removed');
    }
    const from = eventView(before, before.hasSecret);
    const to = eventView(rule, before.hasSecret);
    const changes: Record<string, unknown> = {};
    for (const key of new Set([...Object.keys(from), ...Object.keys(to)])) {
      const a = JSON.stringify((from as Record<string, unknown>)[key]);
      const b = JSON.stringify((to as Record<string, unknown>)[key]);
      if (a !== b) {
        changes[key] = {
          from: (from as Record<string, unknown>)[key] ?? null,
          to: (to as Record<string, unknown>)[key] ?? null,
        };
      }
    }
    if (secret !== undefined && (secret !== null || before.hasSecret)) {
      changes.secret = secret === null ? 'removed' : 'changed';
    }
    const changed = Object.keys(changes);
    if (changed.length === 0) return { rule: before, changed };
    const after = await this.#rules.update(name, rule, sealed);
    if (!after) throw new NotFoundError(`no rule named ${name}`);
    await this.#record.record(actor, 'rules.set', subject(name), changes);
    return { rule: after, changed };
  }

  /** Turns a rule on or off; false when it already was (then no event). */
  async setEnabled(actor: Actor, name: string, enabled: boolean): Promise<boolean> {
    checkActor(actor);
    const before = await this.get(name);
    if (before.enabled === enabled) return false;
    const after = await this.#rules.update(name, { ...definitionOf(before), enabled });
    if (!after) throw new NotFoundError(`no rule named ${name}`);
    await this.#record.record(actor, enabled ? 'rules.enable' : 'rules.disable', subject(name));
    return true;
  }

  /** Whether the rule fires for a sample event and what it would run; nothing runs, nothing is recorded. */
  async test(name: string, sample: RuleSample = {}) {
    return ruleDryRun(await this.get(name), sample);
  }

  /**
   * The dry run, and when the sample fires the rule, its actions run once now (recorded first: a run the trail
   * cannot record does not happen). Not a delivery: nothing is queued or retried.
   */
  async testRun(actor: Actor, name: string, sample: RuleSample = {}) {
    checkActor(actor);
    const rule = await this.get(name);
    const outcome = sampleOutcome(rule, sample);
    if (!outcome.fires) return { ...outcome, ran: [] as RuleRunResult[] };
    await this.#record.record(actor, 'rules.test.run', subject(name), {
      event: outcome.dry.event,
      user: outcome.fields.user,
      path: outcome.fields.path,
      actions: rule.actions.length,
    });
    return { ...outcome, ran: await runRuleOnce(this.#deps, rule, outcome.dry.event, outcome.fields) };
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    if (!(await this.#rules.remove(name))) throw new NotFoundError(`no rule named ${name}`);
    await this.#record.record(actor, 'rules.remove', subject(name));
  }

  /**
   * Adds or updates the rules of a YAML or JSON file. Every rule is checked before any is saved; a rule equal
   * to the stored one (and its secret, when the file names one) is left alone, so a second import changes
   * nothing and records no event. Rules missing from the file are kept.
   */
  async import(actor: Actor, text: string, options: ImportOptions = {}): Promise<ImportReport> {
    checkActor(actor);
    const entries = await parseRulesFile(
      text,
      options.format ?? 'yaml',
      options.env ?? {},
      options.secrets ?? 'env',
    );
    const plans: {
      rule: RuleDefinition;
      existing: RuleRecord | undefined;
      sealed: string | undefined;
      change: 'add' | 'update' | 'none';
    }[] = [];
    for (const [i, entry] of entries.entries()) {
      const { secret } = entry;
      const at = `rules[${i}] (${entry.rule.name}): `;
      try {
        const rule = await this.#checkReferences(entry.rule);
        const existing = await this.#rules.get(rule.name);
        const sealed = this.#sealSecret(rule, secret, existing?.hasSecret ?? false);
        const secretSame =
          secret === undefined ||
          (existing?.hasSecret === true && (await this.#sameSecret(existing, secret)));
        const change = !existing
          ? 'add'
          : canonicalRule(existing) !== canonicalRule(rule) || !secretSame
            ? 'update'
            : 'none';
        plans.push({ rule, existing, sealed: secretSame ? undefined : sealed, change });
      } catch (err) {
        if (err instanceof InvalidArgumentError || err instanceof NotFoundError) {
          throw new InvalidArgumentError(`${at}${err.message}`);
        }
        throw err;
      }
    }
    const report = { added: [] as string[], updated: [] as string[], unchanged: [] as string[] };
    for (const plan of plans) {
      if (plan.change === 'add') {
        await this.#rules.create(plan.rule, plan.sealed ?? null);
        report.added.push(plan.rule.name);
      } else if (plan.change === 'update') {
        await this.#rules.update(plan.rule.name, plan.rule, plan.sealed);
        report.updated.push(plan.rule.name);
      } else report.unchanged.push(plan.rule.name);
    }
    if (report.added.length + report.updated.length > 0) {
      await this.#record.record(actor, 'rules.import', options.source ?? 'rules file', {
        added: report.added,
        updated: report.updated,
        unchanged: report.unchanged.length,
      });
    }
    return report;
  }

  /** Deliveries, newest first, each with every attempt. */
  async deliveries(query: DeliveryQueryInput = {}): Promise<DeliveryHistory[]> {
    const q = parseInput(deliveryQuerySchema, query);
    const list = await this.#deps.store.deliveries.list({
      limit: q.limit,
      ...(q.rule !== undefined ? { rule: q.rule } : {}),
      ...(q.status !== undefined ? { status: q.status as DeliveryStatus } : {}),
      ...(q.failed !== undefined ? { failed: q.failed } : {}),
      ...(q.after !== undefined ? { after: q.after } : {}),
      ...(q.oldestFirst !== undefined ? { oldestFirst: q.oldestFirst } : {}),
    });
    return Promise.all(
      list.map(async (delivery) => ({
        delivery,
        attempts: await this.#deps.store.deliveries.attempts(delivery.id),
      })),
    );
  }

  async delivery(id: string): Promise<DeliveryHistory> {
    const delivery = await this.#deps.store.deliveries.get(id);
    if (!delivery) throw new NotFoundError(`no delivery ${id} (see ferry rules deliveries)`);
    return { delivery, attempts: await this.#deps.store.deliveries.attempts(id) };
  }

  /** Queues a finished or dead delivery again, due now, with the same idempotency id. */
  async redeliver(actor: Actor, id: string): Promise<DeliveryRecord> {
    checkActor(actor);
    const before = (await this.delivery(id)).delivery;
    if (before.status === 'pending' || before.status === 'running') {
      throw new InvalidArgumentError(
        `delivery ${id} is ${before.status} already (next attempt ${before.nextAttemptAt.toISOString()})`,
      );
    }
    if (!(await this.#rules.getById(before.ruleId))) {
      throw new InvalidArgumentError(
        `delivery ${id} belongs to ${before.ruleName}: there is nothing to deliver it with`,
      );
    }
    const after = await this.#deps.store.deliveries.redeliver(id, new Date());
    if (!after) throw new NotFoundError(`no delivery ${id} (see ferry rules deliveries)`);
    await this.#record.record(actor, 'rules.redeliver', `delivery ${id}`, {
      rule: before.ruleName,
      event: before.eventName,
      previousStatus: before.status,
      attempts: before.attempts,
    });
    return after;
  }

  /** A webhook rule needs a secret (new or kept); a secret without a webhook is refused as a mistake. */
  #sealSecret(
    rule: RuleDefinition,
    secret: Secret<string> | undefined,
    hasSecret: boolean,
  ): string | undefined {
    if (secret === undefined) {
      if (needsSecret(rule) && !hasSecret) {
        throw new InvalidArgumentError(
          'a webhook action needs a signing secret (--secret-stdin, or secretEnv in an import file)',
        );
      }
      return undefined;
    }
    if (!needsSecret(rule)) throw new InvalidArgumentError('a secret is only used by webhook actions');
    checkWebhookSecret(secret.reveal());
    return this.#deps.masterKey.seal(Buffer.from(secret.reveal(), 'utf8'), RULE_SECRET_LABEL);
  }

  async #sameSecret(rule: RuleRecord, secret: Secret<string>): Promise<boolean> {
    const sealed = await this.#rules.sealedSecret(rule.id);
    if (sealed === undefined) return false;
    return this.#deps.masterKey.open(sealed, RULE_SECRET_LABEL).reveal().toString('utf8') === secret.reveal();
  }

  /**
   * Jobs, accounts and OpenPGP keys an action names must exist when the rule is saved, not fail at its first
   * delivery. Returns the rule with its keys as fingerprints (a key renamed or re-imported keeps working).
   */
  async #checkReferences(rule: RuleDefinition): Promise<RuleDefinition> {
    const actions = await Promise.all(
      rule.actions.map((action, i) => resolvePgpKeys(() => this.#deps.pgpKeys, action, `actions[${i}]`)),
    );
    for (const [i, action] of rule.actions.entries()) {
      if (action.kind === 'run-job' && !(await this.#deps.store.transferJobs.get(action.job))) {
        throw new InvalidArgumentError(`actions[${i}].job: no job named ${action.job} (see ferry jobs list)`);
      }
      const user = 'user' in action ? action.user : undefined;
      if (user !== undefined && !(await this.#deps.store.users.findByName(user))) {
        throw new InvalidArgumentError(`actions[${i}].user: no user named ${user} (see ferry users list)`);
      }
    }
    return { ...rule, actions };
  }
}
