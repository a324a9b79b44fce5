// Runs scheduled jobs inside `ferry serve` (croner): never two runs of a job at once, one catch-up run after downtime.
import { Cron } from 'croner';
import type { Logger } from '../logger.js';
import type { TransferJobRecord } from '../store/types.js';
import { JobBusyError, type JobManager } from './jobs.js';

export interface SchedulerOptions {
  readonly jobs: JobManager;
  readonly log: Logger;
  /** How often job definitions are re-read (the CLI changes them from another process); default 15 s. */
  readonly reloadMs?: number;
  readonly now?: () => Date;
}

interface Scheduled {
  readonly cron: Cron;
  /** What the cron was built from; a change rebuilds it. */
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
  readonly #now: () => Date;
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #abort = new AbortController();
  #reloadTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: SchedulerOptions) {
    this.#jobs = options.jobs;
    this.#log = options.log;
    this.#reloadMs = options.reloadMs ?? 15_000;
    this.#now = options.now ?? (() => new Date());
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
      existing?.cron.stop();
      this.#scheduled.delete(job.name);
      if (!job.schedule || !job.enabled) continue;
      const cron = new Cron(job.schedule, { protect: true, catch: true }, () =>
        this.#fire(job.name, 'schedule'),
      );
      this.#scheduled.set(job.name, { cron, key: keyOf(job) });
      if (!existing && missedSlot(job, this.#now())) {
        this.#log.info({ job: job.name }, 'a scheduled run was missed while Ferry was down: running it now');
        void this.#fire(job.name, 'catch-up');
      }
    }
    for (const [name, entry] of this.#scheduled) {
      if (seen.has(name)) continue;
      entry.cron.stop();
      this.#scheduled.delete(name);
    }
  }

  /** Starts a run unless one is going (here, or in another process: the store's run lock decides). */
  #fire(name: string, trigger: 'schedule' | 'catch-up'): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    const current = this.#running.get(name);
    if (current) {
      this.#log.warn({ job: name }, 'previous run still going: this slot is skipped');
      return current;
    }
    const run = (async () => {
      try {
        await this.#jobs.markScheduled(name, this.#now());
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
        if (err instanceof JobBusyError)
          this.#log.warn({ job: name }, 'job is running elsewhere: slot skipped');
        else this.#log.error({ err, job: name }, 'transfer job could not run');
      } finally {
        this.#running.delete(name);
      }
    })();
    this.#running.set(name, run);
    return run;
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
    for (const entry of this.#scheduled.values()) entry.cron.stop();
    this.#scheduled.clear();
    await Promise.allSettled(this.#running.values());
  }
}
