// Transfer jobs: define, change, run by hand, remove; each change (and each manual run) one admin event.
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import type { JobPgpOptions, TransferJobRecord, TransferRunRecord } from '../store/types.js';
import { checkJobPgp, type JobManager, type RunHooks, validateSchedule } from '../transfers/jobs.js';
import { formatDuration } from '../transfers/timing.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

// Ranges are checked by the job manager, whose messages name the CLI flags.
const retries = z.number().int();
const backoffMs = z.number().int().min(0);

export const jobAddSchema = z.object({
  name: z.string().min(1),
  partner: z.string().min(1),
  /** pull or push. */
  direction: z.string().min(1),
  remoteDir: z.string().min(1),
  localDir: z.string().min(1),
  /** Comma-separated globs. */
  pattern: z.string().min(1).default('*'),
  /** A cron expression; null (or absent): run by hand only. */
  schedule: z.string().min(1).nullable().default(null),
  /** keep, delete or move:DIR. */
  after: z.string().min(1).default('keep'),
  retries: retries.default(0),
  backoffMs: backoffMs.default(30_000),
  /** Push: encrypt each file for these OpenPGP keys (name, fingerprint or key id) and send NAME.pgp. */
  encryptTo: z.array(z.string().min(1)).default([]),
  signWith: z.string().min(1).optional(),
  armor: z.boolean().default(false),
  /** Pull: decrypt each NAME.pgp/.gpg/.asc into NAME; with verify, a valid signature by one of these keys is required. */
  decrypt: z.boolean().default(false),
  verify: z.array(z.string().min(1)).default([]),
});
export type JobAddInput = z.input<typeof jobAddSchema>;

export const jobSetSchema = z.object({
  name: z.string().min(1),
  /** null: run by hand only. */
  schedule: z.string().min(1).nullable().optional(),
  retries: retries.optional(),
  backoffMs: backoffMs.optional(),
  enabled: z.boolean().optional(),
  /** Replaces the OpenPGP step (same fields as jobAddSchema); `noPgp` removes it. */
  encryptTo: z.array(z.string().min(1)).optional(),
  signWith: z.string().min(1).optional(),
  armor: z.boolean().optional(),
  decrypt: z.boolean().optional(),
  verify: z.array(z.string().min(1)).optional(),
  noPgp: z.boolean().optional(),
});
export type JobSetInput = z.input<typeof jobSetSchema>;

/** A job as lists and events show it. */
export function jobView(j: TransferJobRecord) {
  return {
    name: j.name,
    partner: j.partner,
    direction: j.direction,
    remoteDir: j.remoteDir,
    localDir: j.localDir,
    pattern: j.pattern,
    ...(j.pgp ? { pgp: j.pgp } : {}),
    schedule: j.schedule,
    after: j.after,
    retries: j.retries,
    backoff: formatDuration(j.backoffMs),
    enabled: j.enabled,
  };
}

const subject = (name: string) => `job ${name}`;

export class JobAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  get #jobs(): JobManager {
    return this.#deps.transfers.jobs;
  }

  list(): Promise<TransferJobRecord[]> {
    return this.#jobs.list();
  }

  get(name: string): Promise<TransferJobRecord> {
    return this.#jobs.get(name);
  }

  /** Recent runs, newest first; with `beforeId`, those older than that run (paging). */
  history(name: string, limit = 20, beforeId?: number): Promise<TransferRunRecord[]> {
    return this.#jobs.history(name, limit, beforeId);
  }

  async add(actor: Actor, input: JobAddInput): Promise<TransferJobRecord> {
    checkActor(actor);
    const { encryptTo, signWith, armor, decrypt, verify, ...o } = parseInput(jobAddSchema, input);
    const pgp = await this.#pgpStep({ encryptTo, signWith, armor, decrypt, verify });
    const job = await this.#jobs.add({ ...o, pgp });
    await this.#record.record(actor, 'jobs.add', subject(o.name), jobView(job));
    return job;
  }

  /** Resolves the keys a job's OpenPGP step names to fingerprints (signing and decrypting need private halves). */
  async #pgpStep(o: {
    encryptTo: string[];
    signWith?: string | undefined;
    armor: boolean;
    decrypt: boolean;
    verify: string[];
  }): Promise<JobPgpOptions | null> {
    if (o.encryptTo.length === 0 && !o.decrypt && !o.signWith && !o.armor && o.verify.length === 0)
      return null;
    const keys = this.#deps.pgpKeys;
    const fingerprint = async (ref: string, needPrivate?: string) => {
      const key = await keys.resolve(ref);
      if (needPrivate && !key.privateSealed)
        throw new InvalidArgumentError(
          `OpenPGP key ${key.name} has no private half, so Ferry cannot ${needPrivate} with it`,
        );
      return key.fingerprint;
    };
    if (o.decrypt && !(await keys.list()).some((k) => k.privateSealed !== null))
      throw new InvalidArgumentError(
        '--decrypt needs an OpenPGP key with a private half (ferry keys pgp generate or import one)',
      );
    return {
      ...(o.encryptTo.length ? { encryptTo: await Promise.all(o.encryptTo.map((r) => fingerprint(r))) } : {}),
      ...(o.signWith ? { signWith: await fingerprint(o.signWith, 'sign') } : {}),
      ...(o.armor ? { armor: true } : {}),
      ...(o.decrypt ? { decrypt: true } : {}),
      ...(o.verify.length ? { verifyWith: await Promise.all(o.verify.map((r) => fingerprint(r))) } : {}),
    };
  }

  /** Changes the schedule, retries, backoff or whether the schedule is on. */
  async set(actor: Actor, input: JobSetInput): Promise<TransferJobRecord> {
    checkActor(actor);
    const o = parseInput(jobSetSchema, input);
    const before = await this.#jobs.get(o.name);
    if (o.retries !== undefined && (o.retries < 0 || o.retries > 100))
      throw new InvalidArgumentError('--retries must be 0-100');
    const schedule =
      o.schedule === undefined || o.schedule === null ? o.schedule : validateSchedule(o.schedule);
    const pgpGiven =
      o.encryptTo !== undefined ||
      o.signWith !== undefined ||
      o.armor !== undefined ||
      o.decrypt !== undefined ||
      o.verify !== undefined;
    if (pgpGiven && o.noPgp)
      throw new InvalidArgumentError('--no-pgp cannot be combined with OpenPGP options');
    const pgp = o.noPgp
      ? null
      : pgpGiven
        ? checkJobPgp(
            before.direction,
            await this.#pgpStep({
              encryptTo: o.encryptTo ?? [],
              signWith: o.signWith,
              armor: o.armor ?? false,
              decrypt: o.decrypt ?? false,
              verify: o.verify ?? [],
            }),
          )
        : undefined;
    const after =
      (await this.#deps.store.transferJobs.update(o.name, {
        ...(schedule !== undefined ? { schedule } : {}),
        ...(o.retries !== undefined ? { retries: o.retries } : {}),
        ...(o.backoffMs !== undefined ? { backoffMs: o.backoffMs } : {}),
        ...(o.enabled !== undefined ? { enabled: o.enabled } : {}),
        ...(pgp !== undefined ? { pgp } : {}),
      })) ?? (await this.#jobs.get(o.name));
    const from = jobView(before);
    const to = jobView(after);
    const changes = {
      ...Object.fromEntries(
        (['schedule', 'retries', 'backoff', 'enabled'] as const)
          .filter((k) => from[k] !== to[k])
          .map((k) => [k, { from: from[k], to: to[k] }]),
      ),
      ...(pgp !== undefined ? { pgp: { from: before.pgp ?? null, to: after.pgp ?? null } } : {}),
    };
    await this.#record.record(actor, 'jobs.set', subject(o.name), changes);
    return after;
  }

  /** Turns the job's schedule on or off (`jobs enable|disable`). */
  async setEnabled(actor: Actor, name: string, enabled: boolean): Promise<TransferJobRecord> {
    checkActor(actor);
    const job = await this.#jobs.setEnabled(name, enabled);
    await this.#record.record(actor, enabled ? 'jobs.enable' : 'jobs.disable', subject(name));
    return job;
  }

  /**
   * Runs the job now (refused while it runs elsewhere). The run's transfers are audited by the job itself;
   * the event says who started it and how it ended, also when it failed.
   */
  async run(actor: Actor, name: string, hooks: Omit<RunHooks, 'trigger'> = {}): Promise<TransferRunRecord> {
    checkActor(actor);
    const run = await this.#jobs.run(name, { ...hooks, trigger: 'manual' });
    await this.#record.record(actor, 'jobs.run', subject(name), {
      run: run.id,
      status: run.status,
      files: run.files.length,
      bytes: run.bytes,
    });
    return run;
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await this.#jobs.remove(name);
    await this.#record.record(actor, 'jobs.remove', subject(name));
  }
}
