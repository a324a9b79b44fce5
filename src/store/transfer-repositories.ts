// Partners, transfer jobs (with their run lock), run history and the transferred-files ledger over kysely.
import type { Kysely, Selectable } from 'kysely';
import { FerryError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { isUniqueViolation } from './named-records.js';
import type { Database, PartnersTable, TransferJobsTable, TransferRunsTable } from './schema.js';
import type {
  JobPgpOptions,
  LedgerEntry,
  NewPartner,
  NewTransferJob,
  PartnerPatch,
  PartnerRecord,
  PartnerRepository,
  TransferDirection,
  TransferJobPatch,
  TransferJobRecord,
  TransferJobRepository,
  TransferRunFile,
  TransferRunRecord,
  TransferRunRepository,
  TransferRunResult,
  TransferRunStatus,
} from './types.js';

function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

const toPartner = (row: Selectable<PartnersTable>): PartnerRecord => ({
  id: row.id,
  name: row.name,
  protocol: row.protocol as PartnerRecord['protocol'],
  host: row.host,
  port: row.port,
  username: row.username,
  passwordSealed: row.password_sealed,
  clientKey: row.client_key,
  hostKeyAlgorithm: row.host_key_algorithm,
  hostKeySha256: row.host_key_sha256,
  renameUploads: Boolean(row.rename_uploads),
  readBack: Boolean(row.read_back),
  // Written only from the validated profile names; anything else read back is treated as the safer one.
  algorithms: row.algorithms === 'compat' ? 'compat' : 'modern',
  tlsCaFile: row.tls_ca_file,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

function partnerColumns(p: PartnerPatch) {
  return {
    ...(p.host !== undefined ? { host: p.host } : {}),
    ...(p.port !== undefined ? { port: p.port } : {}),
    ...(p.username !== undefined ? { username: p.username } : {}),
    ...(p.passwordSealed !== undefined ? { password_sealed: p.passwordSealed } : {}),
    ...(p.clientKey !== undefined ? { client_key: p.clientKey } : {}),
    ...(p.hostKeyAlgorithm !== undefined ? { host_key_algorithm: p.hostKeyAlgorithm } : {}),
    ...(p.hostKeySha256 !== undefined ? { host_key_sha256: p.hostKeySha256 } : {}),
    ...(p.renameUploads !== undefined ? { rename_uploads: p.renameUploads ? 1 : 0 } : {}),
    ...(p.readBack !== undefined ? { read_back: p.readBack ? 1 : 0 } : {}),
    ...(p.algorithms !== undefined ? { algorithms: p.algorithms } : {}),
    ...(p.protocol !== undefined ? { protocol: p.protocol } : {}),
    ...(p.tlsCaFile !== undefined ? { tls_ca_file: p.tlsCaFile } : {}),
  };
}

export class KyselyPartnerRepository implements PartnerRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(partner: NewPartner): Promise<PartnerRecord> {
    const now = new Date().toISOString();
    try {
      const row = await this.db
        .insertInto('partners')
        .values({
          name: partner.name,
          host: partner.host,
          port: partner.port,
          username: partner.username,
          password_sealed: partner.passwordSealed,
          client_key: partner.clientKey,
          host_key_algorithm: partner.hostKeyAlgorithm,
          host_key_sha256: partner.hostKeySha256,
          rename_uploads: partner.renameUploads ? 1 : 0,
          read_back: partner.readBack ? 1 : 0,
          algorithms: partner.algorithms,
          protocol: partner.protocol ?? 'sftp',
          tls_ca_file: partner.tlsCaFile ?? null,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toPartner(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `partner ${partner.name} already exists`);
      throw err;
    }
  }

  async get(name: string): Promise<PartnerRecord | undefined> {
    const row = await this.db.selectFrom('partners').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toPartner(row) : undefined;
  }

  async list(): Promise<PartnerRecord[]> {
    return (await this.db.selectFrom('partners').selectAll().orderBy('name').execute()).map(toPartner);
  }

  async update(name: string, patch: PartnerPatch): Promise<PartnerRecord | undefined> {
    const row = await this.db
      .updateTable('partners')
      .set({ ...partnerColumns(patch), updated_at: new Date().toISOString() })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row ? toPartner(row) : undefined;
  }

  async remove(name: string): Promise<boolean> {
    try {
      const result = await this.db.deleteFrom('partners').where('name', '=', name).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    } catch (err) {
      if (isForeignKeyViolation(err))
        throw new InvalidArgumentError(`partner ${name} is used by a job; remove the job first`);
      throw err;
    }
  }
}

type JobRow = Selectable<TransferJobsTable> & { partner_name: string };

const toJob = (row: JobRow): TransferJobRecord => ({
  id: row.id,
  name: row.name,
  partner: row.partner_name,
  direction: row.direction as TransferDirection,
  remoteDir: row.remote_dir,
  localDir: row.local_dir,
  pattern: row.pattern,
  schedule: row.schedule,
  after: row.after_action,
  retries: row.retries,
  backoffMs: row.backoff_ms,
  enabled: Boolean(row.enabled),
  pgp: row.pgp === null ? null : (JSON.parse(row.pgp) as JobPgpOptions),
  lastScheduledAt: row.last_scheduled_at ? new Date(row.last_scheduled_at) : null,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

export class KyselyTransferJobRepository implements TransferJobRepository {
  constructor(private readonly db: Kysely<Database>) {}

  #select() {
    return this.db
      .selectFrom('transfer_jobs')
      .innerJoin('partners', 'partners.id', 'transfer_jobs.partner_id')
      .selectAll('transfer_jobs')
      .select('partners.name as partner_name');
  }

  async create(job: NewTransferJob): Promise<TransferJobRecord> {
    const partner = await this.db
      .selectFrom('partners')
      .select('id')
      .where('name', '=', job.partner)
      .executeTakeFirst();
    if (!partner) throw new NotFoundError(`no partner named ${job.partner}`);
    const now = new Date().toISOString();
    try {
      await this.db
        .insertInto('transfer_jobs')
        .values({
          name: job.name,
          partner_id: partner.id,
          direction: job.direction,
          remote_dir: job.remoteDir,
          local_dir: job.localDir,
          pattern: job.pattern,
          schedule: job.schedule,
          after_action: job.after,
          retries: job.retries,
          backoff_ms: job.backoffMs,
          enabled: job.enabled ? 1 : 0,
          pgp: job.pgp ? JSON.stringify(job.pgp) : null,
          last_scheduled_at: null,
          lock_owner: null,
          lock_until: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
    } catch (err) {
      if (isUniqueViolation(err))
        throw new FerryError('ERR_ALREADY_EXISTS', `job ${job.name} already exists`);
      throw err;
    }
    return (await this.get(job.name))!;
  }

  async get(name: string): Promise<TransferJobRecord | undefined> {
    const row = await this.#select().where('transfer_jobs.name', '=', name).executeTakeFirst();
    return row ? toJob(row) : undefined;
  }

  async list(): Promise<TransferJobRecord[]> {
    return (await this.#select().orderBy('transfer_jobs.name').execute()).map(toJob);
  }

  async update(name: string, patch: TransferJobPatch): Promise<TransferJobRecord | undefined> {
    const result = await this.db
      .updateTable('transfer_jobs')
      .set({
        ...(patch.enabled !== undefined ? { enabled: patch.enabled ? 1 : 0 } : {}),
        ...(patch.schedule !== undefined ? { schedule: patch.schedule } : {}),
        ...(patch.retries !== undefined ? { retries: patch.retries } : {}),
        ...(patch.backoffMs !== undefined ? { backoff_ms: patch.backoffMs } : {}),
        ...(patch.pgp !== undefined ? { pgp: patch.pgp ? JSON.stringify(patch.pgp) : null } : {}),
        ...(patch.lastScheduledAt !== undefined
          ? { last_scheduled_at: patch.lastScheduledAt?.toISOString() ?? null }
          : {}),
        updated_at: new Date().toISOString(),
      })
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? this.get(name) : undefined;
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('transfer_jobs').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async acquireLock(name: string, owner: string, until: Date, now: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('transfer_jobs')
      .set({ lock_owner: owner, lock_until: until.toISOString() })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('lock_until', 'is', null), eb('lock_until', '<', now.toISOString())]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async renewLock(name: string, owner: string, until: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('transfer_jobs')
      .set({ lock_until: until.toISOString() })
      .where('name', '=', name)
      .where('lock_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async claimSlot(name: string, slot: Date, mark: Date): Promise<boolean> {
    // ISO-8601 UTC text compares in time order.
    const result = await this.db
      .updateTable('transfer_jobs')
      .set({ last_scheduled_at: mark.toISOString() })
      .where('name', '=', name)
      .where((eb) =>
        eb.or([eb('last_scheduled_at', 'is', null), eb('last_scheduled_at', '<', slot.toISOString())]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    await this.db
      .updateTable('transfer_jobs')
      .set({ lock_owner: null, lock_until: null })
      .where('name', '=', name)
      .where('lock_owner', '=', owner)
      .execute();
  }
}

type RunRow = Selectable<TransferRunsTable> & { job_name: string };

const toRun = (row: RunRow): TransferRunRecord => ({
  id: row.id,
  job: row.job_name,
  trigger: row.trigger,
  attempts: row.attempts,
  status: row.status as TransferRunStatus,
  startedAt: new Date(row.started_at),
  finishedAt: row.finished_at ? new Date(row.finished_at) : null,
  files: JSON.parse(row.files) as TransferRunFile[],
  bytes: row.bytes,
  durationMs: row.duration_ms,
  error: row.error,
});

export class KyselyTransferRunRepository implements TransferRunRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async #jobId(job: string): Promise<number> {
    const row = await this.db
      .selectFrom('transfer_jobs')
      .select('id')
      .where('name', '=', job)
      .executeTakeFirst();
    if (!row) throw new NotFoundError(`no job named ${job}`);
    return row.id;
  }

  async start(job: string, trigger: string, at: Date): Promise<TransferRunRecord> {
    const jobId = await this.#jobId(job);
    const row = await this.db
      .insertInto('transfer_runs')
      .values({
        job_id: jobId,
        trigger,
        attempts: 0,
        status: 'running',
        started_at: at.toISOString(),
        finished_at: null,
        files: '[]',
        bytes: 0,
        duration_ms: 0,
        error: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRun({ ...row, job_name: job });
  }

  async finish(id: number, result: TransferRunResult, at: Date): Promise<void> {
    await this.db
      .updateTable('transfer_runs')
      .set({
        status: result.status,
        attempts: result.attempts,
        finished_at: at.toISOString(),
        files: JSON.stringify(result.files),
        bytes: result.bytes,
        duration_ms: result.durationMs,
        error: result.error,
      })
      .where('id', '=', id)
      .execute();
  }

  async history(job: string, limit: number, beforeId?: number): Promise<TransferRunRecord[]> {
    let query = this.db
      .selectFrom('transfer_runs')
      .innerJoin('transfer_jobs', 'transfer_jobs.id', 'transfer_runs.job_id')
      .selectAll('transfer_runs')
      .select('transfer_jobs.name as job_name')
      .where('transfer_jobs.name', '=', job);
    if (beforeId !== undefined) query = query.where('transfer_runs.id', '<', beforeId);
    const rows = await query.orderBy('transfer_runs.id', 'desc').limit(limit).execute();
    return rows.map(toRun);
  }

  async ledger(job: string): Promise<Map<string, LedgerEntry>> {
    const jobId = await this.#jobId(job);
    const rows = await this.db
      .selectFrom('transfer_ledger')
      .selectAll()
      .where('job_id', '=', jobId)
      .execute();
    return new Map(
      rows.map((r) => [r.path, { path: r.path, size: r.size, mtime: r.mtime, sha256: r.sha256 }] as const),
    );
  }

  async remember(job: string, entry: LedgerEntry): Promise<void> {
    const jobId = await this.#jobId(job);
    const values = {
      size: entry.size,
      mtime: entry.mtime,
      sha256: entry.sha256,
      transferred_at: new Date().toISOString(),
    };
    await this.db
      .insertInto('transfer_ledger')
      .values({ job_id: jobId, path: entry.path, ...values })
      .onConflict((oc) => oc.columns(['job_id', 'path']).doUpdateSet(values))
      .execute();
  }
}
