// One attempt of a transfer job's run: its pending files pulled or pushed, remembered in the ledger and audited.
import { join, posix, resolve } from 'node:path';
import { FerryError, InvalidArgumentError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { loggers } from '../logger.js';
import type { TransferJobRecord, TransferRunFile, TransferRunRepository } from '../store/types.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import type { PgpOutcome } from '../vfs/pgp/decrypt-arrival.js';
import { afterTransfer, localSources, remoteSources } from './job-files.js';
import { decryptPulled, type PgpKeyMaterial, pushSource } from './job-pgp.js';
import { parseAfter, pendingFiles, type SourceFile } from './ledger.js';
import type { PartnerLink } from './partner-link.js';
import type { PartnerManager } from './partners.js';
import type { LocalFile, TransferResult } from './transfer.js';

/** An audit record as the audit writer takes it (structurally; transfers/ does not import audit/). */
export interface TransferAuditEntry {
  readonly action: 'upload' | 'download';
  readonly user: string;
  readonly protocol: 'sftp-client' | 'ftps-client';
  readonly address: string;
  readonly path: string;
  readonly target?: string;
  readonly result: 'ok' | 'failed';
  readonly reason?: string | null;
  readonly detail: Readonly<Record<string, unknown>>;
}

export type TransferAuditSink = (entry: TransferAuditEntry) => Promise<unknown>;

export interface RunHooks {
  /** How the run began; 'rule': a rule's run-job action (automation/actions/run-job.ts). */
  readonly trigger?: 'manual' | 'schedule' | 'catch-up' | 'rule';
  readonly signal?: AbortSignal;
  readonly onFile?: (name: string, size: number) => void;
  readonly onProgress?: (name: string, done: number, total: number) => void;
  readonly onFileDone?: (name: string, result: TransferResult) => void;
  readonly onRetry?: (attempt: number, delayMs: number, error: Error) => void;
  /** For tests: replaces the real wait between attempts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What an attempt uses: the partners, the ledger, the audit trail, events and OpenPGP keys. */
export interface JobRunDeps {
  readonly runs: TransferRunRepository;
  readonly partners: PartnerManager;
  readonly audit: TransferAuditSink;
  /** Where runs announce themselves: started, then succeeded or failed (with a stable code). */
  readonly events?: Pick<EventBus, 'emit'>;
  /** Keys for jobs with an OpenPGP step (encrypt before a push, decrypt after a pull). */
  readonly pgpKeys?: PgpKeyMaterial;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** One attempt of a run: every pending file of the job, each transferred, remembered and audited in turn. */
export async function runJobFiles(
  deps: JobRunDeps,
  job: TransferJobRecord,
  runId: number,
  files: TransferRunFile[],
  hooks: RunHooks,
): Promise<void> {
  const partner = await deps.partners.get(job.partner);
  const link = await deps.partners.open(partner);
  // The job's local directory is the root of its storage: every local read and write stays inside it.
  const root = resolve(job.localDir);
  const fs = new LocalFs({ root, createRoot: job.direction === 'pull' });
  try {
    const ledger = await deps.runs.ledger(job.name);
    const sources = job.direction === 'pull' ? await remoteSources(link, job) : await localSources(fs, job);
    const after = parseAfter(job.after);
    for (const file of pendingFiles(ledger, sources)) {
      if (hooks.signal?.aborted) throw new FerryError('ERR_IO', 'run aborted');
      // With encryptTo, a push sends an OpenPGP message of the file (staged beside it) as NAME.pgp.
      const push =
        job.direction === 'push' ? await pushSource(fs, file.name, job.pgp, deps.pgpKeys) : undefined;
      const remotePath = posix.join(job.remoteDir, push?.remoteName ?? file.name);
      const localPath = join(job.localDir, file.name);
      const local: LocalFile = { fs, path: push?.path ?? `/${file.name}`, root };
      hooks.onFile?.(file.name, file.size);
      const options = {
        readBack: partner.readBack,
        signal: hooks.signal,
        onProgress: (done: number, total: number) => hooks.onProgress?.(file.name, done, total),
      };
      let result: TransferResult;
      try {
        result =
          job.direction === 'pull'
            ? await link.download(remotePath, local, { ...options, preserve: true })
            : await link.upload(local, remotePath, {
                ...options,
                useTempName: partner.renameUploads,
              });
      } catch (err) {
        await auditFile(deps, job, link, partner, runId, file, remotePath, localPath, undefined, err);
        throw err;
      }
      const decrypted =
        job.direction === 'pull'
          ? await decryptPulled(fs, file.name, job.pgp, deps.pgpKeys, loggers.transfers)
          : undefined;
      await push?.cleanup();
      await deps.runs.remember(job.name, {
        path: file.name,
        size: file.size,
        mtime: file.mtime,
        sha256: result.sha256 ?? null,
      });
      files.push({
        path: file.name,
        bytes: result.bytes,
        resumedFrom: result.resumedFrom,
        sha256: result.sha256 ?? null,
        verified: result.verified,
        durationMs: Math.round(result.durationMs),
      });
      await auditFile(deps, job, link, partner, runId, file, remotePath, localPath, result);
      hooks.onFileDone?.(file.name, result);
      if (decrypted) await reportPgp(deps, job, link, runId, decrypted);
      // Received, remembered (so not fetched again), but refused: the run fails naming the quarantined file.
      if (decrypted?.phase === 'quarantined')
        throw new InvalidArgumentError(
          `${file.name} was not decrypted (${decrypted.error}); moved to ${posix.join(job.localDir, decrypted.target)}`,
        );
      if (after.kind !== 'keep')
        await afterTransfer(link, fs, job, file.name, after.kind === 'move' ? after.dir : null);
    }
  } finally {
    await fs.dispose();
    await link.close();
  }
}

async function reportPgp(
  deps: JobRunDeps,
  job: TransferJobRecord,
  link: PartnerLink,
  runId: number,
  outcome: PgpOutcome,
): Promise<void> {
  await deps.events?.emit({
    type: 'pgp',
    at: new Date(),
    sessionId: `job:${job.name}:${runId}`,
    username: `job:${job.name}`,
    protocol: link.clientProtocol,
    ...outcome,
  });
}

function auditFile(
  deps: JobRunDeps,
  job: TransferJobRecord,
  link: PartnerLink,
  partner: { readonly host: string; readonly port: number },
  runId: number,
  file: SourceFile,
  remotePath: string,
  localPath: string,
  result: TransferResult | undefined,
  error?: unknown,
): Promise<unknown> {
  const pull = job.direction === 'pull';
  return deps.audit({
    action: pull ? 'download' : 'upload',
    user: `job:${job.name}`,
    protocol: link.clientProtocol,
    address: `${partner.host}:${partner.port}`,
    path: pull ? remotePath : localPath,
    target: pull ? localPath : remotePath,
    result: result ? 'ok' : 'failed',
    reason: error === undefined ? null : message(error),
    detail: {
      job: job.name,
      run: runId,
      partner: job.partner,
      size: file.size,
      ...(result
        ? {
            bytes: result.transferred,
            resumedFrom: result.resumedFrom,
            sha256: result.sha256,
            verified: result.verified,
            durationMs: Math.round(result.durationMs),
          }
        : {}),
    },
  });
}
