// The outbox writer: an awaited bus subscriber storing one delivery per action of each matching rule, group-committed.
import type { FerryEvent } from '../events/types.js';
import type { HealthState } from '../health.js';
import type { Logger } from '../logger.js';
import { GroupCommit } from '../util/group-commit.js';
import { uuidV7 } from '../util/uuid-v7.js';
import { withFields } from '../util/with-fields.js';
import { counterHit } from './counting.js';
import { ruleEventsOf } from './event-names.js';
import { matches } from './match.js';
import type { RuleCache } from './rule-cache.js';
import { firedByRule } from './rule-session.js';
import type {
  CounterHit,
  CounterOutcome,
  DeliveryRecord,
  DeliveryRepository,
  NewDelivery,
  RuleCounterRepository,
  RuleRecord,
} from './types.js';

export interface OutboxWriterOptions {
  readonly deliveries: DeliveryRepository;
  /** The shared counters of counting rules (the store's `ruleCounters`); serving processes always pass it. */
  readonly counters?: RuleCounterRepository;
  readonly rules: RuleCache;
  readonly log: Logger;
  /** Longest an event's rows wait for company before their batch is committed (default 0: the event loop's next turn). */
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
  /** How many of the stored rows it takes now (its free slots, or more while it holds them for transfers). */
  readonly adoptable: number;
  adopt(claimed: readonly DeliveryRecord[]): void;
}

interface Pending {
  readonly rows: readonly NewDelivery[];
  readonly hits: readonly CounterHit[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** Commit attempts for one batch (the store retries busy locks itself). */
const BATCH_ATTEMPTS = 3;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What an event causes: deliveries to store now, and hits of counting rules (which fire in the store). */
export interface OutboxPlan {
  readonly rows: NewDelivery[];
  readonly hits: CounterHit[];
}

/** Appends one delivery per action of `rule` for an event with `fields`. */
function pushDeliveries(
  rows: NewDelivery[],
  rule: RuleRecord,
  eventName: NewDelivery['eventName'],
  fields: Readonly<Record<string, string>>,
  dedupeKey: string | undefined,
): void {
  rule.actions.forEach((_action, actionIndex) => {
    // A random id, fixed from now on: every attempt (and a redelivery) carries it, so receivers can dedupe.
    // Version 7 (time first): the store's index on it grows at its end instead of at a random page, which kept
    // the outbox's insert on an upload's CLOSE growing with the table. A fact every process reports (a key
    // expiring) gets one id everywhere: the store keeps the first.
    const id = dedupeKey === undefined ? uuidV7() : `${dedupeKey}:${rule.id}:${actionIndex}`;
    rows.push({ id, ruleId: rule.id, actionIndex, eventName, fields });
  });
}

/**
 * The deliveries an event causes: one per action of each enabled rule that matches it (or a fact derived from
 * it). A counting rule (a `count` condition) gives a hit instead; its deliveries are stored when the count is
 * reached (see counting.ts), so a rule without one never costs a counter write.
 */
export function outboxPlan(
  event: FerryEvent,
  rules: RuleCache,
  now: () => Date = () => new Date(),
): OutboxPlan {
  const rows: NewDelivery[] = [];
  const hits: CounterHit[] = [];
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
      if (rule.conditions.count === undefined) {
        pushDeliveries(rows, rule, match.name, fields, match.dedupeKey);
        continue;
      }
      // Counted events are many reports: a firing gets fresh ids, never one event's dedupe key.
      const hit = counterHit(rule, match.fields, now(), (extra) => {
        const fired: NewDelivery[] = [];
        pushDeliveries(
          fired,
          rule,
          match.name,
          withFields(fields, extra as Record<string, string>),
          undefined,
        );
        return fired;
      });
      if (hit) hits.push(hit);
    }
  }
  return { rows, hits };
}

export class OutboxWriter {
  readonly #deliveries: DeliveryRepository;
  readonly #counters: RuleCounterRepository | undefined;
  readonly #rules: RuleCache;
  readonly #log: Logger;
  readonly #onEnqueued: (() => void) | undefined;
  readonly #now: () => Date;
  readonly #health: HealthState | undefined;
  readonly #worker: OutboxWorker | undefined;
  readonly #batches: GroupCommit<Pending>;
  #closed = false;
  readonly #evictionWarned = new Map<number, number>();

  constructor(options: OutboxWriterOptions) {
    this.#deliveries = options.deliveries;
    this.#counters = options.counters;
    this.#rules = options.rules;
    this.#log = options.log;
    this.#batches = new GroupCommit({
      flushDelayMs: options.flushDelayMs ?? 0,
      maxBatch: options.maxBatch ?? 256,
      // Batches are bounded by rows, not events: one event may match many rule actions.
      weight: (p) => p.rows.length + p.hits.length,
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
    const { rows, hits } = outboxPlan(event, this.#rules, this.#now);
    if (rows.length === 0 && hits.length === 0) return undefined;
    return this.enqueue(rows, hits);
  };

  /** Queues rows (and counter hits) for the next batch; resolves once the transactions holding them committed. */
  enqueue(rows: readonly NewDelivery[], hits: readonly CounterHit[] = []): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#batches.push({ rows, hits, resolve, reject });
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

  /** Warns (once a minute per rule) when a rule's counters are full and its least recently hit keys are dropped. */
  #counted(hits: readonly CounterHit[], outcomes: readonly CounterOutcome[]): void {
    outcomes.forEach((outcome, i) => {
      const hit = hits[i];
      if (!hit || outcome.evicted === 0) return;
      const now = Date.now();
      if ((this.#evictionWarned.get(hit.ruleId) ?? 0) > now - 60_000) return;
      this.#evictionWarned.set(hit.ruleId, now);
      const rule = this.#rules.byId(hit.ruleId)?.name ?? hit.ruleId;
      this.#log.warn(
        { rule, maxKeys: hit.maxKeys, evicted: outcome.evicted },
        'counting rule holds the most keys it may: the least recently counted are forgotten (many distinct users, addresses or paths within its window)',
      );
    });
  }

  /**
   * Stores rows, claimed at once by this process's worker as far as it can take them (its free slots, or more while
   * it holds them for its transfers); returns what it claimed.
   */
  async #store(rows: readonly NewDelivery[], now: Date): Promise<DeliveryRecord[]> {
    const take = this.#worker?.adoptable ?? 0;
    if (!this.#worker || take <= 0) {
      await this.#deliveries.enqueue(rows, now);
      return [];
    }
    const leaseUntil = new Date(now.getTime() + this.#worker.leaseMs);
    const { claimed } = await this.#deliveries.enqueueClaimed(rows, now, {
      owner: this.#worker.owner,
      leaseUntil,
      limit: take,
      ruleName: (id) => this.#rules.byId(id)?.name,
    });
    return claimed;
  }

  async #commit(batch: readonly Pending[]): Promise<void> {
    const rows: NewDelivery[] = [];
    const hits: CounterHit[] = [];
    for (const p of batch) {
      rows.push(...p.rows);
      hits.push(...p.hits);
    }
    let claimed: DeliveryRecord[] = [];
    let rowsStored = rows.length === 0;
    for (let attempt = 1; ; attempt++) {
      try {
        const now = this.#now();
        // Two transactions; a retry after the second failed does not store (or claim) the rows again.
        if (!rowsStored) {
          claimed = await this.#store(rows, now);
          rowsStored = true;
        }
        if (hits.length > 0) {
          if (!this.#counters)
            throw new Error('this outbox has no rule counters: counting rules cannot fire here');
          this.#counted(hits, await this.#counters.record(hits, now));
        }
        break;
      } catch (err) {
        if (attempt < BATCH_ATTEMPTS) {
          this.#log.warn({ err, attempt, deliveries: rows.length }, 'outbox batch not committed; retrying');
          await new Promise((r) => setTimeout(r, 50 * attempt));
          continue;
        }
        // Lost to the outbox: the log keeps what they were, so an operator can replay them by hand.
        this.#log.error(
          {
            err,
            lost: rowsStored
              ? []
              : rows.map((r) => ({ rule: r.ruleId, event: r.eventName, fields: r.fields })),
            lostCounts: hits.map((h) => ({ rule: h.ruleId, key: h.key, at: h.at })),
          },
          'rule deliveries could not be stored',
        );
        this.#health?.degrade('outbox', `rule deliveries cannot be stored: ${errorText(err)}`);
        for (const p of batch) p.reject(err);
        if (claimed.length > 0) this.#worker?.adopt(claimed);
        return;
      }
    }
    this.#health?.recover('outbox');
    for (const p of batch) p.resolve();
    try {
      if (claimed.length > 0) this.#worker?.adopt(claimed);
      // Rows left pending (more than the worker had room for, or fired by a count) are claimed as slots free up.
      if (claimed.length < rows.length || hits.length > 0) this.#onEnqueued?.();
    } catch (err) {
      this.#log.error({ err }, 'outbox wake-up listener failed');
    }
  }
}
