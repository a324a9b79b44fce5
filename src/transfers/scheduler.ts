// Runs scheduled jobs inside `ferry serve` (croner computes the slots): never two runs of a job at once, one catch-up run after downtime.
import { Cron } from 'croner';
import type { Logger } from '../logger.js';
import type { TransferJobRecord } from '../store/types.js';
import { JobBusyError, type JobManager } from './jobs.js';

/** Time as the scheduler sees it: injected so tests step through slots instead of waiting for them. */
export interface SchedulerClock {
  now(): Date;
  /** Calls `fire` at `when` (or as soon after as it can); the returned function cancels. */
  at(when: Date, fire: () => void): () => void;
}

/** Longest setTimeout delay; later times are reached in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: SchedulerClock = {
  now: () => new Date(),
  at(when, fire) {
    let timer: NodeJS.Timeout;
    const arm = () => {
      const wait = when.getTime() - Date.now();
      timer = setTimeout(wait > MAX_TIMER_MS ? arm : fire, Math.max(0, Math.min(wait, MAX_TIMER_MS)));
    };
    arm();
    return () => clearTimeout(timer);
  },
};

export interface SchedulerOptions {
  readonly jobs: JobManager;
  readonly log: Logger;
  /** How often job definitions are re-read (the CLI changes them from another process); default 15 s. */
  readonly reloadMs?: number;
  readonly clock?: SchedulerClock;
}

interface Scheduled {
  /** Cancels the timer of the job's next slot. */
  cancel(): void;
  /** What the timer was built from; a change rebuilds it. */
  readonly key: string;
}

const keyOf = (job: TransferJobRecord) => `${job.schedule}|${job.enabled}`;

/**
 * The slot a run was missed for: the first schedule time after the last handled slot (or the job's creation)
 * that is already past. Several missed slots give one run, as the issue asks.
 */
export function missedSlot(job: TransferJobRecord, now: Date): Date | undefined {
  if (!job.schedule || !job.enabled) return undefined;
  const since = job.lastScheduledAt ?? job.createdAt;
  const next = new Cron(job.schedule, { paused: true }).nextRun(since);
  return next && next.getTime() <= now.getTime() ? next : undefined;
}

export class TransferScheduler {
  readonly #jobs: JobManager;
  readonly #log: Logger;
  readonly #reloadMs: number;
  readonly #clock: SchedulerClock;
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #reloadTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: SchedulerOptions) {
    this.#jobs = options.jobs;
    this.#log = options.log;
    this.#reloadMs = options.reloadMs ?? 15_000;
    this.#clock = options.clock ?? systemClock;
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#jobs.onRunFailed((job, run) =>
      this.#log.error(
        { job: job.name, run: run.id, attempts: run.attempts, error: run.error },
        'transfer job failed after its retries',
      ),
    );
    await this.reload();
    this.#reloadTimer = setInterval(() => {
      this.reload().catch((err: unknown) => this.#log.error({ err }, 'transfer job reload failed'));
    }, this.#reloadMs);
    this.#reloadTimer.unref();
  }

  /** Brings the crons in line with the stored jobs; a job new to this scheduler gets its catch-up check. */
  async reload(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const jobs = await this.#jobs.list();
    const seen = new Set<string>();
    for (const job of jobs) {
      seen.add(job.name);
      const existing = this.#scheduled.get(job.name);
      if (existing?.key === keyOf(job)) continue;
      existing?.cancel();
      this.#scheduled.delete(job.name);
      if (!job.schedule || !job.enabled) continue;
      this.#scheduled.set(job.name, this.#schedule(job.name, job.schedule, keyOf(job)));
      const missed = existing ? undefined : missedSlot(job, this.#clock.now());
      if (missed) {
        this.#log.info({ job: job.name }, 'a scheduled run was missed while Ferry was down: running it now');
        void this.#fire(job.name, 'catch-up', missed);
      }
    }
    for (const [name, entry] of this.#scheduled) {
      if (seen.has(name)) continue;
      entry.cancel();
      this.#scheduled.delete(name);
    }
  }

  /** Arms the timer of the job's next slot after now; each slot fires a run (or is skipped) and arms the next. */
  #schedule(name: string, schedule: string, key: string): Scheduled {
    const cron = new Cron(schedule, { paused: true });
    let cancelTimer = () => {};
    let cancelled = false;
    const armNext = (after: Date) => {
      const next = cron.nextRun(after);
      if (cancelled || !next) return;
      cancelTimer = this.#clock.at(next, () => {
        if (cancelled) return;
        // From the slot itself too: a timer firing a hair early must not fire the same slot twice.
        armNext(new Date(Math.max(this.#clock.now().getTime(), next.getTime())));
        void this.#fire(name, 'schedule', next);
      });
    };
    armNext(this.#clock.now());
    return {
      key,
      cancel: () => {
        cancelled = true;
        cancelTimer();
      },
    };
  }

  /**
   * Runs the slot unless another process claimed it (every worker and node fires every slot; the first claim in
   * the store wins, so a slot runs once however late the others fire it) or a run is still going (here, or in
   * another process: the store's run lock decides).
   */
  #fire(name: string, trigger: 'schedule' | 'catch-up', slot: Date): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    const current = this.#running.get(name);
    if (current) {
      this.#log.warn({ job: name }, 'previous run still going: this slot is skipped');
      return current;
    }
    const run = (async () => {
      try {
        // A catch-up marks now: the missed slots since are covered by this one run.
        const mark = trigger === 'catch-up' ? this.#clock.now() : slot;
        if (!(await this.#jobs.claimSlot(name, slot, mark))) {
          this.#log.debug({ job: name, slot }, 'slot fired by another process: skipped');
          return;
        }
        const result = await this.#jobs.run(name, { trigger, signal: this.#abort.signal });
        this.#log.info(
          {
            job: name,
            run: result.id,
            status: result.status,
            files: result.files.length,
            bytes: result.bytes,
          },
          'transfer job ran',
        );
      } catch (err) {
        // Only the process that claimed the slot gets here, once per slot: a run of the job still going elsewhere
        // (an earlier slot's, or one started by hand) means this slot does not run at all. An administrator
        // reading why a job ran fewer times than its schedule says needs that line, so it is not debug.
        if (err instanceof JobBusyError)
          this.#log.info(
            { job: name, slot },
            'slot skipped: a run of this job is still going in another process',
          );
        else this.#log.error({ err, job: name }, 'transfer job could not run');
      } finally {
        this.#running.delete(name);
      }
    })();
    this.#running.set(name, run);
    return run;
  }

  /** Settles when the runs in progress in this process have ended. */
  async idle(): Promise<void> {
    await Promise.allSettled(this.#running.values());
  }

  /** Names of jobs with a run in progress in this process. */
  get running(): string[] {
    return [...this.#running.keys()];
  }

  /** Stops the crons, aborts runs in progress (they keep their partial files for resume) and waits for them. */
  async stop(): Promise<void> {
    this.#abort.abort();
    clearInterval(this.#reloadTimer);
    this.#unsubscribe?.();
    for (const entry of this.#scheduled.values()) entry.cancel();
    this.#scheduled.clear();
    await Promise.allSettled(this.#running.values());
  }
}
