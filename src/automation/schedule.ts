// Rules on the `schedule` event fire from their own cron; of several processes exactly one stores each tick's deliveries.
import { Cron } from 'croner';
import type { Logger } from '../logger.js';
import type { RuleCache } from './rule-cache.js';
import type { DeliveryRepository, NewDelivery, RuleRecord } from './types.js';

export interface RuleSchedulerOptions {
  readonly rules: RuleCache;
  readonly deliveries: DeliveryRepository;
  readonly log: Logger;
  /** Told after a tick stored deliveries (the worker in this process wakes at once). */
  readonly onEnqueued?: () => void;
}

interface Armed {
  readonly key: string;
  cancel(): void;
}

/** setTimeout's longest delay; a slot further away re-arms on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Windows looked back through for the newest past slot, shortest first: a dense schedule (every second) finds one
 * in the first after a few steps, a sparse one (yearly) in a later one, and no search walks millions of slots.
 */
const LOOK_BACK_MS = [60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000, 5 * 367 * 86_400_000];

/**
 * The newest slot of `cron` in (since, now], or undefined. Cron slots are searched forward only (croner has no
 * "previous run"), so the search starts a bounded window before now.
 */
export function latestSlot(cron: Cron, since: Date, now: Date): Date | undefined {
  for (const window of LOOK_BACK_MS) {
    const from = new Date(Math.max(since.getTime(), now.getTime() - window));
    let latest: Date | undefined;
    for (let slot = cron.nextRun(from); slot && slot.getTime() <= now.getTime(); slot = cron.nextRun(slot)) {
      latest = slot;
    }
    if (latest || from.getTime() === since.getTime()) return latest;
  }
  return undefined;
}

/**
 * The id of a tick's delivery: the same in every process (rule, action, the slot's own time), so the store's
 * insert-or-ignore keeps exactly one however many processes fire the slot.
 */
export function scheduledDeliveryId(ruleId: number, actionIndex: number, slot: Date): string {
  return `sched:${ruleId}:${actionIndex}:${slot.toISOString()}`;
}

/** The deliveries of one tick: one per action, fields `event` and `at` (the slot). */
export function tickDeliveries(rule: RuleRecord, slot: Date): NewDelivery[] {
  const fields = { event: 'schedule', at: slot.toISOString() };
  return rule.actions.map((_action, actionIndex) => ({
    id: scheduledDeliveryId(rule.id, actionIndex, slot),
    ruleId: rule.id,
    actionIndex,
    eventName: 'schedule' as const,
    fields,
  }));
}

/**
 * Arms one cron per enabled rule listening to `schedule` (re-armed when rules change). A schedule rule's
 * conditions are not evaluated: the cron is its condition. A slot missed while no process ran is found once
 * when the rule is armed (at start): the newest past slot since the rule was last changed whose delivery was
 * never stored fires now, with that slot's id and time (several missed slots give one run, as partner jobs).
 */
export class RuleScheduler {
  readonly #o: RuleSchedulerOptions;
  readonly #armed = new Map<number, Armed>();
  #unsubscribe: (() => void) | undefined;
  #stopped = false;

  constructor(options: RuleSchedulerOptions) {
    this.#o = options;
  }

  start(): void {
    this.#unsubscribe = this.#o.rules.onChange((rules) => this.#sync(rules));
    this.#sync(this.#o.rules.all());
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const armed of this.#armed.values()) armed.cancel();
    this.#armed.clear();
  }

  /** Rule ids with an armed cron (for tests and diagnostics). */
  get armed(): number[] {
    return [...this.#armed.keys()];
  }

  #sync(rules: readonly RuleRecord[]): void {
    if (this.#stopped) return;
    const wanted = new Map<number, RuleRecord>();
    for (const rule of rules) {
      if (rule.enabled && rule.schedule && rule.events.includes('schedule')) wanted.set(rule.id, rule);
    }
    for (const [id, armed] of this.#armed) {
      const rule = wanted.get(id);
      if (rule && armed.key === keyOf(rule)) continue;
      armed.cancel();
      this.#armed.delete(id);
    }
    for (const [id, rule] of wanted) {
      if (this.#armed.has(id)) continue;
      try {
        this.#armed.set(id, this.#arm(rule));
      } catch (err) {
        this.#o.log.error(
          { err, rule: rule.name, schedule: rule.schedule },
          'rule schedule is invalid: not armed',
        );
      }
    }
  }

  #arm(rule: RuleRecord): Armed {
    const cron = new Cron(rule.schedule ?? '', { paused: true });
    let timer: NodeJS.Timeout | undefined;
    let cancelled = false;
    const armNext = (after: Date) => {
      const slot = cron.nextRun(after);
      if (cancelled || !slot) return;
      const wait = slot.getTime() - Date.now();
      if (wait > MAX_TIMER_MS) {
        timer = setTimeout(() => armNext(after), MAX_TIMER_MS);
      } else {
        timer = setTimeout(
          () => {
            if (cancelled) return;
            // From the slot itself too: a timer firing a hair early must not fire the same slot twice.
            armNext(new Date(Math.max(Date.now(), slot.getTime())));
            void this.#fire(rule, slot);
          },
          Math.max(0, wait),
        );
      }
      timer.unref();
    };
    const now = new Date();
    armNext(now);
    const missed = latestSlot(cron, rule.updatedAt, now);
    if (missed) void this.#catchUp(rule, missed);
    return {
      key: keyOf(rule),
      cancel: () => {
        cancelled = true;
        clearTimeout(timer);
      },
    };
  }

  /** Fires `slot` unless some process stored its deliveries already (the store keeps the first anyway). */
  async #catchUp(rule: RuleRecord, slot: Date): Promise<void> {
    try {
      if (await this.#o.deliveries.get(scheduledDeliveryId(rule.id, 0, slot))) return;
    } catch (err) {
      this.#o.log.error({ err, rule: rule.name, slot }, 'missed schedule slot could not be checked');
      return;
    }
    if (this.#stopped) return;
    this.#o.log.info(
      { rule: rule.name, slot },
      'a scheduled slot was missed while Ferry was down: firing it now',
    );
    await this.#fire(rule, slot);
  }

  async #fire(rule: RuleRecord, slot: Date): Promise<void> {
    try {
      const inserted = await this.#o.deliveries.enqueue(tickDeliveries(rule, slot), new Date());
      if (inserted > 0) {
        this.#o.log.debug({ rule: rule.name, slot }, 'schedule fired');
        this.#o.onEnqueued?.();
      }
    } catch (err) {
      this.#o.log.error({ err, rule: rule.name, slot }, 'scheduled rule deliveries could not be stored');
    }
  }
}

function keyOf(rule: RuleRecord): string {
  return `${rule.schedule}|${rule.updatedAt.getTime()}`;
}
