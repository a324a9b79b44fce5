// Transfer jobs: definitions, and runs that pull or push matching files once each, with retries, a run lock and records.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Cron } from 'croner';
import { FerryError, InvalidArgumentError, NotFoundError } from '../errors.js';
import type { JobEvent } from '../events/types.js';
import type {
  JobPgpOptions,
  TransferDirection,
  TransferJobRecord,
  TransferJobRepository,
  TransferRunFile,
  TransferRunRecord,
} from '../store/types.js';
import { NoCommonAlgorithmError } from './connection.js';
import { CertificateChangedError } from './ftps-partner.js';
import { fileMatcher } from './glob.js';
import { jobErrorCode } from './job-errors.js';
import { type JobRunDeps, type RunHooks, runJobFiles } from './job-run.js';
import { parseAfter } from './ledger.js';
import {
  HostKeyChangedError,
  HostKeyNotTrustedError,
  PinnedKeyTypeRefusedError,
  validateName,
} from './partners.js';
import { backoffDelay } from './timing.js';

export type { RunHooks, TransferAuditEntry, TransferAuditSink } from './job-run.js';

/** How long a run lock lasts without renewal: a crashed runner blocks its job at most this long. */
const LOCK_LEASE_MS = 60_000;
const LOCK_RENEW_MS = 20_000;

export class JobBusyError extends FerryError {
  constructor(job: string) {
    super('ERR_LIMIT', `job ${job} is already running`);
  }
}

export interface NewJobInput {
  readonly name: string;
  readonly partner: string;
  readonly direction: string;
  readonly remoteDir: string;
  readonly localDir: string;
  readonly pattern?: string;
  readonly schedule?: string | null;
  readonly after?: string;
  readonly retries?: number;
  readonly backoffMs?: number;
  /** The OpenPGP step, keys already resolved to fingerprints (admin/jobs.ts does that). */
  readonly pgp?: JobPgpOptions | null;
}

export interface JobManagerDeps extends JobRunDeps {
  readonly jobs: TransferJobRepository;
}

/** Told about every run that ended failed after its retries (the alerting hook). */
export type RunFailedListener = (job: TransferJobRecord, run: TransferRunRecord) => void;

/** The OpenPGP step a job may have: encryption only on a push, decryption only on a pull. */
export function checkJobPgp(
  direction: TransferDirection,
  pgp: JobPgpOptions | null | undefined,
): JobPgpOptions | null {
  if (!pgp) return null;
  const encrypts = (pgp.encryptTo?.length ?? 0) > 0;
  if (direction === 'pull' && (encrypts || pgp.signWith || pgp.armor))
    throw new InvalidArgumentError(
      '--encrypt-to, --sign-with and --armor are for push jobs (a pull job uses --decrypt)',
    );
  if (direction === 'push' && (pgp.decrypt || pgp.verifyWith?.length))
    throw new InvalidArgumentError('--decrypt and --verify are for pull jobs (a push job uses --encrypt-to)');
  if (!encrypts && (pgp.signWith || pgp.armor))
    throw new InvalidArgumentError('--sign-with and --armor need --encrypt-to');
  if (!pgp.decrypt && pgp.verifyWith?.length) throw new InvalidArgumentError('--verify needs --decrypt');
  return encrypts || pgp.decrypt ? pgp : null;
}

/** Validates a cron expression as the scheduler will read it. */
export function validateSchedule(expression: string): string {
  try {
    new Cron(expression, { paused: true }).stop();
  } catch (err) {
    throw new InvalidArgumentError(`invalid schedule '${expression}': ${(err as Error).message}`);
  }
  return expression;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class JobManager {
  readonly #failureListeners = new Set<RunFailedListener>();

  constructor(private readonly deps: JobManagerDeps) {}

  /** Subscribes to final run failures; returns the unsubscribe function. */
  onRunFailed(listener: RunFailedListener): () => void {
    this.#failureListeners.add(listener);
    return () => this.#failureListeners.delete(listener);
  }

  list(): Promise<TransferJobRecord[]> {
    return this.deps.jobs.list();
  }

  async get(name: string): Promise<TransferJobRecord> {
    const job = await this.deps.jobs.get(name);
    if (!job) throw new NotFoundError(`no job named ${name}`);
    return job;
  }

  async add(input: NewJobInput): Promise<TransferJobRecord> {
    validateName('job', input.name);
    if (input.direction !== 'pull' && input.direction !== 'push')
      throw new InvalidArgumentError(`--direction must be pull or push, not '${input.direction}'`);
    const pattern = input.pattern ?? '*';
    fileMatcher(pattern);
    const after = input.after ?? 'keep';
    parseAfter(after);
    const retries = input.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0 || retries > 100)
      throw new InvalidArgumentError('--retries must be 0-100');
    const backoffMs = input.backoffMs ?? 30_000;
    if (!input.remoteDir || !input.localDir)
      throw new InvalidArgumentError('--remote-dir and --local-dir are required');
    await this.deps.partners.get(input.partner);
    const pgp = checkJobPgp(input.direction, input.pgp);
    return this.deps.jobs.create({
      name: input.name,
      partner: input.partner,
      direction: input.direction as TransferDirection,
      remoteDir: input.remoteDir,
      localDir: input.localDir,
      pattern,
      schedule: input.schedule ? validateSchedule(input.schedule) : null,
      after,
      retries,
      backoffMs,
      enabled: true,
      pgp,
    });
  }

  async setEnabled(name: string, enabled: boolean): Promise<TransferJobRecord> {
    const job = await this.deps.jobs.update(name, { enabled });
    if (!job) throw new NotFoundError(`no job named ${name}`);
    return job;
  }

  async remove(name: string): Promise<void> {
    if (!(await this.deps.jobs.remove(name))) throw new NotFoundError(`no job named ${name}`);
  }

  async history(name: string, limit = 20, beforeId?: number): Promise<TransferRunRecord[]> {
    await this.get(name);
    return this.deps.runs.history(name, limit, beforeId);
  }

  /** Records the schedule slot the scheduler handled (missed-run detection). */
  async markScheduled(name: string, at: Date): Promise<void> {
    await this.deps.jobs.update(name, { lastScheduledAt: at });
  }

  /**
   * Claims a schedule slot for this process: false when another process (a worker, another node) fired it
   * first. `mark` (default the slot) is recorded as the last handled slot; a catch-up run marks now.
   */
  claimSlot(name: string, slot: Date, mark: Date = slot): Promise<boolean> {
    return this.deps.jobs.claimSlot(name, slot, mark);
  }

  /**
   * Runs a job now: takes its run lock (JobBusyError when another run holds it), tries up to 1 + retries
   * times with backoff, records the run and an audit record per file, and reports a final failure.
   */
  async run(name: string, hooks: RunHooks = {}): Promise<TransferRunRecord> {
    const job = await this.get(name);
    const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    const lease = () => new Date(Date.now() + LOCK_LEASE_MS);
    if (!(await this.deps.jobs.acquireLock(name, owner, lease(), new Date()))) throw new JobBusyError(name);
    const renew = setInterval(() => {
      this.deps.jobs.renewLock(name, owner, lease()).catch(() => undefined);
    }, LOCK_RENEW_MS);
    renew.unref();
    try {
      const started = new Date();
      const run = await this.deps.runs.start(name, hooks.trigger ?? 'manual', started);
      const event = {
        type: 'job',
        sessionId: `job:${job.name}:${run.id}`,
        username: `job:${job.name}`,
        job: job.name,
        run: run.id,
        partner: job.partner,
        direction: job.direction,
        trigger: hooks.trigger ?? 'manual',
      } as const;
      await this.deps.events?.emit({ ...event, at: started, phase: 'started' } satisfies JobEvent);
      const files: TransferRunFile[] = [];
      let attempts = 0;
      let lastError: Error | undefined;
      for (;;) {
        attempts++;
        try {
          await runJobFiles(this.deps, job, run.id, files, hooks);
          lastError = undefined;
          break;
        } catch (err) {
          lastError = err instanceof Error ? err : new Error(String(err));
          // Retrying cannot fix an identity problem or a server with no algorithm in common; a person must look.
          const permanent =
            err instanceof HostKeyNotTrustedError ||
            err instanceof HostKeyChangedError ||
            err instanceof NoCommonAlgorithmError ||
            err instanceof PinnedKeyTypeRefusedError ||
            err instanceof CertificateChangedError;
          if (permanent || attempts > job.retries || hooks.signal?.aborted) break;
          const delay = backoffDelay(job.backoffMs, attempts);
          hooks.onRetry?.(attempts, delay, lastError);
          await (hooks.sleep ?? sleep)(delay, hooks.signal);
        }
      }
      const result = {
        status: lastError ? ('failed' as const) : ('ok' as const),
        attempts,
        files,
        bytes: files.reduce((sum, f) => sum + f.bytes - f.resumedFrom, 0),
        durationMs: Date.now() - started.getTime(),
        error: lastError ? lastError.message : null,
      };
      await this.deps.runs.finish(run.id, result, new Date());
      const record: TransferRunRecord = { ...run, ...result, finishedAt: new Date() };
      await this.deps.events?.emit({
        ...event,
        at: record.finishedAt ?? new Date(),
        phase: lastError ? 'failed' : 'succeeded',
        attempts,
        files: files.length,
        bytes: result.bytes,
        durationMs: result.durationMs,
        ...(lastError
          ? { errorCode: jobErrorCode(lastError, hooks.signal?.aborted), error: lastError.message }
          : {}),
      } satisfies JobEvent);
      if (lastError) {
        const partner = await this.deps.partners.get(job.partner).catch(() => undefined);
        await this.deps.audit({
          action: job.direction === 'pull' ? 'download' : 'upload',
          user: `job:${job.name}`,
          protocol: partner && partner.protocol !== 'sftp' ? 'ftps-client' : 'sftp-client',
          address: partner ? `${partner.host}:${partner.port}` : job.partner,
          path: job.remoteDir,
          target: job.localDir,
          result: 'failed',
          reason: lastError.message,
          detail: { job: job.name, run: run.id, partner: job.partner, attempts, files: files.length },
        });
        for (const listener of this.#failureListeners) listener(job, record);
      }
      return record;
    } finally {
      clearInterval(renew);
      await this.deps.jobs.releaseLock(name, owner);
    }
  }
}
