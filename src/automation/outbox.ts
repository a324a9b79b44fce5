// The outbox writer: an awaited bus subscriber storing one delivery per action of each matching rule, group-committed.
import { randomUUID } from 'node:crypto';
import type { FerryEvent } from '../events/types.js';
import type { HealthState } from '../health.js';
import type { Logger } from '../logger.js';
import { GroupCommit } from '../util/group-commit.js';
import { ruleEventsOf } from './event-names.js';
import { matches } from './match.js';
import type { RuleCache } from './rule-cache.js';
import { firedByRule } from './rule-session.js';
import type { DeliveryRecord, DeliveryRepository, NewDelivery } from './types.js';

export interface OutboxWriterOptions {
  readonly deliveries: DeliveryRepository;
  readonly rules: RuleCache;
  readonly log: Logger;
  /** Longest an event's rows wait for company before their batch is committed (default 2 ms). */
  readonly flushDelayMs?: number;
  /** Rows committed at once when this many wait (default 256). */
  readonly maxBatch?: number;
  /** Told after each committed batch (the worker in this process wakes at once). */
  readonly onEnqueued?: () => void;
  readonly now?: () => Date;
  /**
   * Told after every batch whether the outbox could write: a lost batch degrades the process (readiness fails,
   * a `store-error` event is emitted), the next stored batch recovers it. As the audit writer reports.
   */
  readonly health?: HealthState;
  /**
   * The worker of this process: stored deliveries are claimed by it in the same transaction, as many as it has
   * free slots, and handed to it (no claim of their own, no other process racing for them).
   */
  readonly worker?: OutboxWorker;
}

/** What the outbox needs of the delivery worker in its process. */
export interface OutboxWorker {
  readonly owner: string;
  readonly leaseMs: number;
  readonly free: number;
  adopt(claimed: readonly DeliveryRecord[]): void;
}

interface Pending {
  readonly rows: readonly NewDelivery[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Commit attempts for one batch (the store retries busy locks itself). */
const BATCH_ATTEMPTS = 3;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The deliveries an event causes: one per action of each enabled rule that matches it (or a fact derived from it). */
export function deliveriesFor(event: FerryEvent, rules: RuleCache): NewDelivery[] {
  const rows: NewDelivery[] = [];
  for (const match of ruleEventsOf(event)) {
    const candidates = rules.forEvent(match.name);
    if (candidates.length === 0) continue;
    const fields: Record<string, string> = {};
    for (const [key, value] of Object.entries(match.fields))
      if (typeof value === 'string') fields[key] = value;
    for (const rule of candidates) {
      // A rule never fires on what its own actions did (a move's rename event): see rule-session.ts.
      if (firedByRule(rule.name, match.fields.sessionId) || !matches(rule, match.name, match.fields))
        continue;
      rule.actions.forEach((_action, actionIndex) => {
        // A random id, fixed from now on: every attempt (and a redelivery) carries it, so receivers can dedupe.
        // A fact every process reports (a key expiring) gets one id everywhere: the store keeps the first.
        const id =
          match.dedupeKey === undefined ? randomUUID() : `${match.dedupeKey}:${rule.id}:${actionIndex}`;
        rows.push({ id, ruleId: rule.id, actionIndex, eventName: match.name, fields });
      });
    }
  }
  return rows;
}

export class OutboxWriter {
  readonly #deliveries: DeliveryRepository;
  readonly #rules: RuleCache;
  readonly #log: Logger;
  readonly #onEnqueued: (() => void) | undefined;
  readonly #now: () => Date;
  readonly #health: HealthState | undefined;
  readonly #worker: OutboxWorker | undefined;
  readonly #batches: GroupCommit<Pending>;
  #closed = false;

  constructor(options: OutboxWriterOptions) {
    this.#deliveries = options.deliveries;
    this.#rules = options.rules;
    this.#log = options.log;
    this.#batches = new GroupCommit({
      flushDelayMs: options.flushDelayMs ?? 2,
      maxBatch: options.maxBatch ?? 256,
      // Batches are bounded by rows, not events: one event may match many rule actions.
      weight: (p) => p.rows.length,
      commit: (batch) => this.#commit(batch),
    });
    this.#onEnqueued = options.onEnqueued;
    this.#now = options.now ?? (() => new Date());
    this.#health = options.health;
    this.#worker = options.worker;
  }

  /**
   * Subscribe this to the EventBus (awaited): an operation that awaits its event (an upload's CLOSE) is
   * acknowledged only once its deliveries are committed. An event no rule wants costs no store call.
   */
  readonly listener = (event: FerryEvent): Promise<void> | undefined => {
    if (this.#closed || this.#rules.idle) return undefined;
    const rows = deliveriesFor(event, this.#rules);
    if (rows.length === 0) return undefined;
    return this.enqueue(rows);
  };

  /** Queues rows for the next batch; resolves once the transaction holding them committed. */
  enqueue(rows: readonly NewDelivery[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#batches.push({ rows, resolve, reject });
    });
  }

  /** Commits what is queued; later events enqueue nothing. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  flush(): Promise<void> {
    return this.#batches.flush();
  }

  async #commit(batch: readonly Pending[]): Promise<void> {
    const rows = batch.flatMap((p) => p.rows);
    let claimed: DeliveryRecord[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        const now = this.#now();
        const free = this.#worker?.free ?? 0;
        if (this.#worker && free > 0) {
          const leaseUntil = new Date(now.getTime() + this.#worker.leaseMs);
          const owner = this.#worker.owner;
          ({ claimed } = await this.#deliveries.enqueueClaimed(rows, now, {
            owner,
            leaseUntil,
            limit: free,
          }));
        } else await this.#deliveries.enqueue(rows, now);
        break;
      } catch (err) {
        if (attempt < BATCH_ATTEMPTS) {
          this.#log.warn({ err, attempt, deliveries: rows.length }, 'outbox batch not committed; retrying');
          await new Promise((r) => setTimeout(r, 50 * attempt));
          continue;
        }
        // Lost to the outbox: the log keeps what they were, so an operator can replay them by hand.
        this.#log.error(
          { err, lost: rows.map((r) => ({ rule: r.ruleId, event: r.eventName, fields: r.fields })) },
          'rule deliveries could not be stored',
        );
        this.#health?.degrade('outbox', `rule deliveries cannot be stored: ${errorText(err)}`);
        for (const p of batch) p.reject(err);
        return;
      }
    }
    this.#health?.recover('outbox');
    for (const p of batch) p.resolve();
    try {
      if (claimed.length > 0) this.#worker?.adopt(claimed);
      // Rows left pending (more than the worker had room for) are claimed by it as slots free up.
      if (claimed.length < rows.length) this.#onEnqueued?.();
    } catch (err) {
      this.#log.error({ err }, 'outbox wake-up listener failed');
    }
  }
}
