// The rules every process holds in memory, by event name; reloaded when the store's rule version moves (a CLI change).
import type { Logger } from '../logger.js';
import { compileConditions } from './match.js';
import type { AnyRuleEventName, RuleRecord, RuleRepository } from './types.js';

export interface RuleCacheOptions {
  readonly rules: RuleRepository;
  readonly log: Logger;
  /** How often the version is read in the background (default 1000 ms). */
  readonly checkEveryMs?: number;
}

interface Snapshot {
  readonly version: number;
  readonly byId: ReadonlyMap<number, RuleRecord>;
  /** Enabled rules whose conditions compile, by each event they listen to. */
  readonly byEvent: ReadonlyMap<string, readonly RuleRecord[]>;
}

const EMPTY: Snapshot = { version: -1, byId: new Map(), byEvent: new Map() };

export class RuleCache {
  readonly #rules: RuleRepository;
  readonly #log: Logger;
  readonly #checkEveryMs: number;
  readonly #listeners = new Set<(rules: readonly RuleRecord[]) => void>();
  #snapshot: Snapshot = EMPTY;
  #checkedAt = 0;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Rule ids whose bad conditions were logged already (a reload does not repeat the line). */
  readonly #reported = new Set<string>();

  constructor(options: RuleCacheOptions) {
    this.#rules = options.rules;
    this.#log = options.log;
    this.#checkEveryMs = options.checkEveryMs ?? 1000;
  }

  /** Loads the rules now and keeps checking the version in the background until stop(). */
  async start(): Promise<void> {
    await this.refresh(true);
    this.#timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) => this.#log.error({ err }, 'rules could not be reloaded'));
    }, this.#checkEveryMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Enabled rules listening to `event`, from memory (no store call). */
  forEvent(event: AnyRuleEventName | string): readonly RuleRecord[] {
    return this.#snapshot.byEvent.get(event) ?? [];
  }

  /** True while no enabled rule listens to any event (the outbox then skips even mapping events). */
  get idle(): boolean {
    return this.#snapshot.byEvent.size === 0;
  }

  /** Any rule, enabled or not, by id, from memory. */
  byId(id: number): RuleRecord | undefined {
    return this.#snapshot.byId.get(id);
  }

  /** Every rule loaded (enabled or not). */
  all(): readonly RuleRecord[] {
    return [...this.#snapshot.byId.values()];
  }

  /** Called with all rules after each reload that found a new version (schedules re-arm from it). */
  onChange(listener: (rules: readonly RuleRecord[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads the version (at most once per check interval unless `force`) and reloads the rules when it moved.
   * Concurrent callers share one refresh.
   */
  refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.#checkedAt < this.#checkEveryMs)
      return this.#refreshing ?? Promise.resolve();
    this.#refreshing ??= this.#reload().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #reload(): Promise<void> {
    this.#checkedAt = Date.now();
    const version = await this.#rules.version();
    if (version === this.#snapshot.version) return;
    const rules = await this.#rules.list();
    const byEvent = new Map<string, RuleRecord[]>();
    for (const rule of rules) {
      if (!rule.enabled || !this.#compiles(rule)) continue;
      for (const event of new Set(rule.events)) {
        const list = byEvent.get(event) ?? [];
        list.push(rule);
        byEvent.set(event, list);
      }
    }
    this.#snapshot = { version, byId: new Map(rules.map((r) => [r.id, r])), byEvent };
    this.#log.debug({ version, rules: rules.length }, 'rules loaded');
    for (const listener of this.#listeners) {
      try {
        listener(rules);
      } catch (err) {
        this.#log.error({ err }, 'rule change listener failed');
      }
    }
  }

  /** A stored rule whose conditions no longer compile (saved by hand, or by an older check) is skipped, once logged. */
  #compiles(rule: RuleRecord): boolean {
    try {
      compileConditions(rule.conditions);
      return true;
    } catch (err) {
      const key = `${rule.id}@${rule.updatedAt.getTime()}`;
      if (!this.#reported.has(key)) {
        this.#reported.add(key);
        this.#log.error({ err, rule: rule.name }, 'rule skipped: its conditions are invalid');
      }
      return false;
    }
  }
}
