// The delivery worker: claims due deliveries under a lease, runs their actions, records attempts, retries or dead-letters.
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { TransferGauge } from '../core/active-transfers.js';
import type { Logger } from '../logger.js';
import type { Secret } from '../util/secret.js';
import type { ActionRunners } from './actions/index.js';
import { FinishQueue } from './finish-queue.js';
import { HeldDeliveries } from './held-deliveries.js';
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY, leaseOwner, type RetryPolicy, retryDelay } from './retry.js';
import type { RuleCache } from './rule-cache.js';
import type {
  ActionOutcome,
  DeliveryAttempt,
  DeliveryRecord,
  DeliveryRepository,
  RuleRecord,
  RuleRepository,
} from './types.js';

export interface DeliveryWorkerOptions {
  readonly deliveries: DeliveryRepository;
  readonly rules: RuleCache;
  /** For a rule the cache does not know yet (added by another process since the last check). */
  readonly ruleRepository: RuleRepository;
  readonly runners: ActionRunners;
  /** The rule's unsealed webhook secret (undefined without one). */
  readonly secretOf: (rule: RuleRecord) => Promise<Secret<string> | undefined>;
  readonly log: Logger;
  /** Actions running at once in this process (default 8). */
  readonly concurrency?: number;
  /** How often the store is asked for due deliveries when nothing woke the worker (default 1000 ms). */
  readonly pollMs?: number;
  /**
   * How long a wake-up waits for company before claiming, and a finished attempt before its outcome is
   * recorded (default 200 ms): deliveries of transfers close together are claimed and finished in one
   * transaction each, so the store writes that compete with transfers stay few. Delivery is that much later.
   */
  readonly gatherMs?: number;
  /** How long a claim holds a delivery; renewed while its action runs (default 60 s). */
  readonly leaseMs?: number;
  readonly retry?: RetryPolicy;
  /** This process's client transfers, which handed deliveries let go first (held-deliveries.ts). */
  readonly transfers?: TransferGauge;
  /** Longest a delivery waits for this process's transfers to pause (config rules.yieldToTransfersSeconds, in ms; 0: never). */
  readonly yieldMs?: number;
  /** How long stop() waits for running actions before cancelling them (default 10 s). */
  readonly stopTimeoutMs?: number;
  readonly owner?: string;
}

/** How much captured output an attempt keeps at most. */
const MAX_OUTPUT = 4096;
/** Parked deliveries (held e-mails) this process keeps running beside its concurrency, at most. */
const MAX_PARKED = 1000;

/** How a recorded attempt ended the delivery's turn: delivered, queued again, or dead-lettered. */
export type DeliveryAttemptOutcome = 'succeeded' | 'retry' | 'dead';

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class DeliveryWorker {
  readonly #o: Required<Omit<DeliveryWorkerOptions, 'retry' | 'owner' | 'transfers'>>;
  readonly #retry: RetryPolicy;
  readonly owner: string;
  readonly #running = new Map<string, Promise<void>>();
  /** Running deliveries that only wait (parked e-mails of a digest): not counted against the concurrency. */
  readonly #parked = new Set<string>();
  /** Deliveries whose action is done and whose outcome waits to be recorded: not counted either. */
  readonly #finishing = new Set<string>();
  /** Deliveries handed over by the outbox, waiting for the gather window (and transfers): they hold leases. */
  readonly #held: HeldDeliveries;
  readonly #cancel = new AbortController();
  readonly #finishes: FinishQueue;
  readonly #attemptListeners = new Set<(outcome: DeliveryAttemptOutcome, seconds: number) => void>();
  #timer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #ticking = false;
  #again = false;
  #stopped = false;

  constructor(options: DeliveryWorkerOptions) {
    this.#o = {
      concurrency: 8,
      pollMs: 1000,
      gatherMs: 200,
      leaseMs: 60_000,
      stopTimeoutMs: 10_000,
      yieldMs: 0,
      ...options,
    };
    this.#held = new HeldDeliveries({
      gatherMs: this.#o.gatherMs,
      yieldMs: this.#o.yieldMs,
      transfers: options.transfers,
      start: (delivery) => {
        if (this.#busySlots() >= this.#o.concurrency) return false;
        this.#launch(delivery);
        return true;
      },
    });
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.owner = options.owner ?? leaseOwner();
    // Every running delivery (held digest mails included) listens on the one cancel signal.
    setMaxListeners(this.#o.concurrency + MAX_PARKED + 16, this.#cancel.signal);
    this.#finishes = new FinishQueue({
      deliveries: options.deliveries,
      owner: this.owner,
      log: options.log,
      delayMs: this.#o.gatherMs,
    });
  }

  start(): void {
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(50, this.#o.leaseMs / 3));
    this.#renewTimer.unref();
    this.wake();
  }

  /** Looks for due deliveries now (the outbox writer in this process just stored some, or capacity freed). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Wakes within the gather window (finished deliveries, outbox batches of transfers close together) make one
    // claim, not one each.
    this.#soon ??= setTimeout(() => {
      this.#soon = undefined;
      if (this.#ticking) this.#again = true;
      else if (!this.#stopped) void this.#tick();
    }, this.#o.gatherMs);
  }

  /** Deliveries running in this process now, or handed to it and about to run. */
  get inFlight(): number {
    return this.#running.size + this.#held.size;
  }

  /** Deliveries this process could start now: the outbox claims at most this many of those it stores. */
  get free(): number {
    if (this.#stopped) return 0;
    return Math.max(0, this.#o.concurrency - this.#busySlots() - this.#held.size);
  }

  /** How many the outbox may hand over now: the free slots, or while this process's clients transfer, more. */
  get adoptable(): number {
    if (this.#stopped) return 0;
    return Math.max(this.free, this.#held.room);
  }

  /** Slots taken by running actions. */
  #busySlots(): number {
    // Parked deliveries cost a timer each, not a slot; they are still bounded, by MAX_PARKED. Finishing ones
    // only wait for their outcome's group commit.
    const parked = Math.min(this.#parked.size, MAX_PARKED);
    return this.#running.size - parked - this.#finishing.size;
  }

  /** How long a claim made now holds a delivery. */
  get leaseMs(): number {
    return this.#o.leaseMs;
  }

  /**
   * Calls `listener` with each attempt this process records (its outcome and how long the action ran), for the
   * metrics; returns the function that stops listening.
   */
  onAttemptRecorded(listener: (outcome: DeliveryAttemptOutcome, seconds: number) => void): () => void {
    this.#attemptListeners.add(listener);
    return () => this.#attemptListeners.delete(listener);
  }

  /**
   * Runs deliveries the outbox of this process stored already claimed under this worker's owner: they skip
   * the claim, and no other process picks them up while this one runs them (the lease guards a crash).
   */
  adopt(claimed: readonly DeliveryRecord[]): void {
    // A stopped worker leaves them to their leases running out: any process retries them then.
    if (this.#stopped) return;
    // They start together at the end of the gather window, as claimed ones do: the deliveries of transfers close
    // together then run side by side, so what they write (a move's audit record, their outcomes) is committed
    // in one transaction, not one per transfer, and their work leaves the transfers' acknowledgements alone.
    this.#held.add(claimed);
  }

  /**
   * Stops claiming, waits up to the stop timeout for running actions, then cancels the rest: each records a
   * failed attempt and is retried later (by any process), as one whose lease ran out would be.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    // Handed deliveries still waiting run now, within the stop timeout, as far as slots allow; the rest go back
    // to the store for any process (this one after a restart) instead of waiting for their leases to end.
    const rest = this.#held.takeRest();
    this.#stopped = true;
    if (rest.length > 0) {
      try {
        await this.#o.deliveries.release(
          this.owner,
          rest.map((d) => d.id),
        );
      } catch (err) {
        this.#o.log.warn(
          { err, held: rest.length },
          'held deliveries not given back; their leases will run out',
        );
      }
    }
    clearTimeout(this.#timer);
    clearTimeout(this.#soon);
    // Outcomes of what runs now are recorded as they come, not after the gather window.
    void this.#finishes.hurry();
    const settled = Promise.allSettled([...this.#running.values()]);
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#o.stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!waited) {
      this.#o.log.warn({ running: this.#running.size }, 'rule actions still running at shutdown: cancelled');
      this.#cancel.abort(new Error('the server is stopping'));
      await Promise.allSettled([...this.#running.values()]);
    }
    clearInterval(this.#renewTimer);
  }

  async #tick(): Promise<void> {
    this.#ticking = true;
    try {
      do {
        this.#again = false;
        const free = this.free;
        if (free <= 0 || this.#stopped) break;
        let claimed: DeliveryRecord[];
        try {
          // Rules changed by another process since the last check (at most one version read per interval).
          await this.#o.rules.refresh();
          const now = new Date();
          // While this process's clients transfer, only what has waited the longest it may wait is taken.
          const due = this.#held.yielding ? new Date(now.getTime() - this.#o.yieldMs) : now;
          claimed = await this.#o.deliveries.claim(
            this.owner,
            free,
            due,
            new Date(now.getTime() + this.#o.leaseMs),
          );
        } catch (err) {
          this.#o.log.error({ err }, 'due deliveries could not be claimed');
          break;
        }
        for (const delivery of claimed) this.#launch(delivery);
        // A full batch means more may be due: claim again as soon as a slot frees (the finish wakes us).
        if (claimed.length === free) break;
      } while (this.#again);
    } finally {
      this.#ticking = false;
      if (!this.#stopped) {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => this.wake(), this.#o.pollMs);
        this.#timer.unref();
      }
    }
  }

  #launch(delivery: DeliveryRecord): void {
    const run = this.#deliver(delivery)
      .catch((err: unknown) =>
        this.#o.log.error(
          { err, delivery: delivery.id },
          'delivery could not be recorded; its lease will run out',
        ),
      )
      .finally(() => {
        this.#running.delete(delivery.id);
        this.#parked.delete(delivery.id);
        this.#finishing.delete(delivery.id);
        this.#held.slotFreed();
        this.wake();
      });
    this.#running.set(delivery.id, run);
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys(), ...this.#held.ids()];
    if (ids.length === 0) return;
    try {
      const held = await this.#o.deliveries.renew(this.owner, ids, new Date(Date.now() + this.#o.leaseMs));
      if (held < ids.length)
        this.#o.log.warn(
          { running: ids.length, held },
          'some delivery leases ran out before they were renewed',
        );
    } catch (err) {
      this.#o.log.error({ err }, 'delivery leases could not be renewed');
    }
  }

  async #rule(id: number): Promise<RuleRecord | undefined> {
    const cached = this.#o.rules.byId(id);
    if (cached) return cached;
    return this.#o.ruleRepository.getById(id);
  }

  async #deliver(delivery: DeliveryRecord): Promise<void> {
    const at = new Date();
    const started = performance.now();
    const rule = await this.#rule(delivery.ruleId);
    let outcome: ActionOutcome;
    let maxAttempts = DEFAULT_MAX_ATTEMPTS;
    if (!rule) outcome = { ok: false, permanent: true, error: 'the rule was removed' };
    else {
      maxAttempts = rule.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
      outcome = await this.#run(rule, delivery);
    }
    const latencyMs = performance.now() - started;
    const output = outcome.output !== undefined ? outcome.output.slice(0, MAX_OUTPUT) : undefined;
    const attempt: DeliveryAttempt = {
      deliveryId: delivery.id,
      attempt: delivery.attempts,
      at,
      ok: outcome.ok,
      latencyMs,
      ...(outcome.responseCode !== undefined ? { responseCode: outcome.responseCode } : {}),
      ...(outcome.error !== undefined || !outcome.ok ? { error: outcome.error ?? 'failed' } : {}),
      ...(output !== undefined ? { output } : {}),
    };
    const dead = !outcome.ok && (outcome.permanent === true || delivery.attempts >= maxAttempts);
    const next = outcome.ok
      ? ({ status: 'succeeded' } as const)
      : dead
        ? ({ status: 'dead' } as const)
        : ({
            status: 'pending',
            nextAttemptAt: new Date(Date.now() + retryDelay(delivery.attempts, this.#retry)),
          } as const);
    // The slot frees now; the lease is still renewed until the outcome is recorded.
    this.#parked.delete(delivery.id);
    this.#finishing.add(delivery.id);
    this.wake();
    const held = await this.#finishes.push({ id: delivery.id, attempt, next });
    const log = {
      delivery: delivery.id,
      rule: delivery.ruleName,
      attempt: delivery.attempts,
      latencyMs: Math.round(latencyMs),
    };
    if (held) {
      const recorded: DeliveryAttemptOutcome = outcome.ok ? 'succeeded' : dead ? 'dead' : 'retry';
      for (const listener of this.#attemptListeners) listener(recorded, latencyMs / 1000);
    }
    if (!held)
      this.#o.log.warn(log, 'delivery lease was lost during the attempt; another process retries it');
    else if (outcome.ok) this.#o.log.debug({ ...log, responseCode: outcome.responseCode }, 'delivered');
    else if (dead)
      this.#o.log.error(
        { ...log, error: attempt.error, responseCode: outcome.responseCode },
        'delivery dead-lettered',
      );
    else
      this.#o.log.warn(
        { ...log, error: attempt.error, retryAt: next.nextAttemptAt },
        'delivery failed; retrying',
      );
  }

  async #run(rule: RuleRecord, delivery: DeliveryRecord): Promise<ActionOutcome> {
    const action = rule.actions[delivery.actionIndex];
    if (!action)
      return {
        ok: false,
        permanent: true,
        error: `the rule no longer has action ${delivery.actionIndex + 1}`,
      };
    const runner = this.#o.runners.get(action.kind);
    if (!runner)
      return { ok: false, permanent: true, error: `this Ferry cannot run '${action.kind}' actions` };
    try {
      const secret = rule.hasSecret ? await this.#o.secretOf(rule) : undefined;
      return await runner.run(action, delivery, {
        rule,
        ...(secret !== undefined ? { secret } : {}),
        signal: this.#cancel.signal,
        park: () => {
          if (this.#parked.has(delivery.id)) return;
          this.#parked.add(delivery.id);
          this.wake();
        },
      });
    } catch (err) {
      return { ok: false, error: errorText(err) };
    }
  }
}
