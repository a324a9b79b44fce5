// Starts the rule engine in a serving process: rule cache, outbox writer on the bus, delivery worker, schedules.
import type { TransferGauge } from '../core/active-transfers.js';
import type { EventBus } from '../events/bus.js';
import type { HealthState } from '../health.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { type ActionRunnerDeps, type ActionRunners, createActionRunners } from './actions/index.js';
import { sendWebhook } from './actions/webhook.js';
import { startDeliveryRetention } from './delivery-retention.js';
import { transfersPaused } from './held-deliveries.js';
import { createHookGate, type HookGate } from './hooks.js';
import { matches } from './match.js';
import { OutboxWriter } from './outbox.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { RuleCache } from './rule-cache.js';
import { RuleScheduler } from './schedule.js';
import type { RuleRecord } from './types.js';
import { DeliveryWorker } from './worker.js';

/** The label rule secrets are sealed with (`MasterKey.seal(secret, RULE_SECRET_LABEL)`). */
export const RULE_SECRET_LABEL = 'rule-secret';

export interface AutomationTiming {
  readonly retry: RetryPolicy;
  /** How long a claim holds a delivery (renewed while its action runs); a crashed holder's run out after it. */
  readonly leaseMs: number;
}

/**
 * Delivery timing, from the environment for tests and drills (not part of the config file):
 * `FERRY_RULES_RETRY_BASE_MS` (first retry delay, doubling; default 1000), `FERRY_RULES_RETRY_CAP_MS` (longest
 * delay; default 600000), `FERRY_RULES_LEASE_MS` (default 60000).
 */
export function timingFromEnv(env: NodeJS.ProcessEnv = process.env): AutomationTiming {
  const ms = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return env[name] !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    retry: {
      baseMs: ms('FERRY_RULES_RETRY_BASE_MS', DEFAULT_RETRY.baseMs),
      capMs: ms('FERRY_RULES_RETRY_CAP_MS', DEFAULT_RETRY.capMs),
    },
    leaseMs: ms('FERRY_RULES_LEASE_MS', 60_000),
  };
}

export interface AutomationOptions {
  readonly store: Store;
  readonly events: EventBus;
  /** Opens a rule's sealed secret (the master key with RULE_SECRET_LABEL). */
  readonly unseal: (sealed: string) => Secret<string>;
  readonly log: Logger;
  /** What the e-mail, command, file, run-job and retention runners need; without it only webhooks run. */
  readonly server?: ActionRunnerDeps['server'];
  /** Replaces the runners (tests of the engine). */
  readonly runners?: ActionRunners;
  readonly timing?: AutomationTiming;
  /** Actions running at once in this process (default 8). */
  readonly concurrency?: number;
  /** How often the rule version is checked and due deliveries are polled (default 1000 ms). */
  readonly checkEveryMs?: number;
  /** The process's health: an outbox that cannot store deliveries degrades it (readiness, `store-error`). */
  readonly health?: HealthState;
  /** This process's client transfers: deliveries wait for them to pause, up to rules.yieldToTransfersSeconds. */
  readonly transfers?: TransferGauge;
}

export interface RunningAutomation {
  readonly rules: RuleCache;
  readonly worker: DeliveryWorker;
  /** The core's pre-operation gate over the pre-upload, pre-download and pre-delete rules. */
  readonly gate: HookGate;
  /** Reloads the rules now when they changed (a test or an admin change in this process). */
  refresh(): Promise<void>;
  /** Stops the schedules and the outbox (commits what is queued), then the worker (bounded wait). */
  stop(): Promise<void>;
}

export async function startAutomation(options: AutomationOptions): Promise<RunningAutomation> {
  const { store, events, log } = options;
  const timing = options.timing ?? timingFromEnv();
  const checkEveryMs = options.checkEveryMs ?? 1000;
  const rules = new RuleCache({ rules: store.rules, log, checkEveryMs });
  await rules.start();

  const secrets = new Map<string, Secret<string>>();
  const secretOf = async (rule: RuleRecord): Promise<Secret<string> | undefined> => {
    const key = `${rule.id}@${rule.updatedAt.getTime()}`;
    const cached = secrets.get(key);
    if (cached) return cached;
    const sealed = await store.rules.sealedSecret(rule.id);
    if (sealed === undefined) return undefined;
    const secret = options.unseal(sealed);
    secrets.set(key, secret);
    return secret;
  };

  // How long actions (and e-mail digests) wait for this process's transfers to pause.
  const yieldMs = (options.server?.config.rules.yieldToTransfersSeconds ?? 0) * 1000;
  const transfers = options.transfers;
  const runnerSet = options.runners
    ? { runners: options.runners, close: async () => {} }
    : createActionRunners({
        log,
        ...(options.server ? { server: options.server } : {}),
        ...(transfers ? { transfersPaused: () => transfersPaused(transfers, yieldMs) } : {}),
      });
  const gate = createHookGate({
    rules,
    matches,
    commandsEnabled: options.server?.config.rules.commands ?? false,
    sendWebhook,
    secretOf: async (rule) => (await secretOf(rule))?.reveal(),
    log,
  });
  const worker = new DeliveryWorker({
    deliveries: store.deliveries,
    rules,
    ruleRepository: store.rules,
    runners: runnerSet.runners,
    secretOf,
    log,
    concurrency: options.concurrency ?? 8,
    pollMs: checkEveryMs,
    leaseMs: timing.leaseMs,
    retry: timing.retry,
    ...(transfers ? { transfers } : {}),
    yieldMs,
  });
  const wake = () => worker.wake();
  const outbox = new OutboxWriter({
    deliveries: store.deliveries,
    counters: store.ruleCounters,
    rules,
    log,
    onEnqueued: wake,
    worker,
    ...(options.health ? { health: options.health } : {}),
  });
  const unsubscribe = events.subscribe(outbox.listener);
  const scheduler = new RuleScheduler({ rules, deliveries: store.deliveries, log, onEnqueued: wake });
  worker.start();
  scheduler.start();
  // The history's retention: only serving processes (with a config) sweep; 0 days keeps it for ever.
  const retentionDays = options.server?.config.rules.deliveryRetentionDays ?? 0;
  const retention =
    retentionDays > 0
      ? startDeliveryRetention({ deliveries: store.deliveries, days: retentionDays, log })
      : undefined;

  let stopping: Promise<void> | undefined;
  return {
    rules,
    worker,
    gate,
    refresh: () => rules.refresh(true),
    stop: () => {
      stopping ??= (async () => {
        scheduler.stop();
        await retention?.stop();
        rules.stop();
        unsubscribe();
        await outbox.close();
        // Held digests are sent now, so the mails the worker waits for finish before it stops.
        await runnerSet.close();
        await worker.stop();
      })();
      return stopping;
    },
  };
}

/** Unseals a rule secret with a master key's `open` (a string secret is its UTF-8 text). */
export function ruleSecretUnsealer(open: (sealed: string, label: string) => Secret<Buffer>) {
  return (sealed: string): Secret<string> =>
    new Secret(open(sealed, RULE_SECRET_LABEL).reveal().toString('utf8'));
}
