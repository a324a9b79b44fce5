// The audit trail's administration: query, tail, verify, export (reads, no events) and prune (an admin event).
import { z } from 'zod';
import type { AuditAnchor } from '../audit/anchors.js';
import { readExportFile, readExportKeys } from '../audit/export-file.js';
import { type AuditFilter, iterateAudit } from '../audit/query.js';
import type { PruneResult } from '../audit/retention.js';
import { type AuditVerifyKey, publicKeyLineFromBlob } from '../audit/signer.js';
import { storeVerifyKeys, type VerifyReport, verifyAuditChain, verifyAuditStore } from '../audit/verify.js';
import { DEFAULT_CHECKPOINT_INTERVAL } from '../audit/writer.js';
import { InvalidArgumentError } from '../errors.js';
import { AUDIT_ACTIONS, type AuditRecord } from '../store/types.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

const isoTime = z
  .string()
  .refine((t) => Number.isFinite(Date.parse(t)), { message: 'is not an ISO date/time' });

export const auditQuerySchema = z.object({
  user: z.string().optional(),
  actions: z.array(z.enum(AUDIT_ACTIONS)).optional(),
  since: isoTime.optional(),
  until: isoTime.optional(),
  /** Path or rename/link target: * and ? within a component, ** across. */
  pathGlob: z.string().optional(),
  afterSeq: z.number().int().min(0).optional(),
  /** Only records up to this seq (inclusive): with afterSeq, one window of the chain. */
  throughSeq: z.number().int().min(0).optional(),
});
export type AuditQueryInput = z.input<typeof auditQuerySchema>;

export const auditRangeSchema = z.object({ since: isoTime.optional(), until: isoTime.optional() });
export type AuditRangeInput = z.input<typeof auditRangeSchema>;

/** A JSONL export's leading line per Ed25519 host key, retired ones too: the export verifies offline after rotations. */
export interface ExportedHostKey {
  readonly hostKey: string;
  readonly sha256: string;
  readonly id: number;
  readonly active: boolean;
  readonly retiredAt: string | null;
}

export interface AuditExport {
  /** The contiguous seq range the export covers; undefined when no record is in the time range. */
  readonly range: { first: number; last: number } | undefined;
  readonly hostKeys: ExportedHostKey[];
  readonly records: AsyncIterable<AuditRecord>;
}

export interface AuditVerifyOptions {
  /** Trusted Ed25519 keys; default: the store's host keys (an export's own host key lines for a file). */
  readonly publicKeys?: AuditVerifyKey[];
  /** Signed checkpoints required at least every n records (0: not checked). */
  readonly checkpointInterval?: number;
  /** An anchor log to check the chain against. */
  readonly anchors?: AuditAnchor[];
}

/** Verifies a JSONL export offline (no data dir needed). */
export async function verifyAuditExport(
  file: string,
  options: AuditVerifyOptions = {},
): Promise<VerifyReport> {
  const keys =
    options.publicKeys && options.publicKeys.length > 0 ? options.publicKeys : await readExportKeys(file);
  return verifyAuditChain(readExportFile(file), {
    publicKeys: keys,
    checkpointInterval: options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL,
    ...(options.anchors ? { anchors: options.anchors } : {}),
  });
}

export class AuditAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  /** Records matching every filter, oldest first, read in pages. */
  query(input: AuditQueryInput = {}): AsyncIterable<AuditRecord> {
    const o = parseInput(auditQuerySchema, input);
    const filter: AuditFilter = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    return iterateAudit(this.#deps.store.audit, filter);
  }

  /** The newest `count` records, oldest first. */
  tail(count: number): Promise<AuditRecord[]> {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new InvalidArgumentError('count must be a non-negative integer');
    return count > 0 ? this.#deps.store.audit.tail(count) : Promise.resolve([]);
  }

  /** Walks the stored chain, checking checkpoints against the given keys (default: the store's host keys). */
  async verify(options: AuditVerifyOptions = {}): Promise<VerifyReport> {
    const keys =
      options.publicKeys && options.publicKeys.length > 0
        ? options.publicKeys
        : await storeVerifyKeys(this.#deps.store.hostKeys);
    return verifyAuditStore(this.#deps.store.audit, {
      publicKeys: keys,
      checkpointInterval: options.checkpointInterval ?? this.#deps.config.auditCheckpointInterval,
      ...(options.anchors ? { anchors: options.anchors } : {}),
    });
  }

  /** A contiguous range of the chain (a time range becomes a seq range, so its records link to each other). */
  async export(input: AuditRangeInput = {}): Promise<AuditExport> {
    const o = parseInput(auditRangeSchema, input);
    const audit = this.#deps.store.audit;
    const range = await audit.seqRange(o.since, o.until);
    const hostKeys = (await this.#deps.store.hostKeys.list())
      .filter((k) => k.algorithm === 'ssh-ed25519')
      .map((k) => ({
        hostKey: publicKeyLineFromBlob(k.publicBlob),
        sha256: k.sha256,
        id: k.id,
        active: k.active,
        retiredAt: k.retiredAt?.toISOString() ?? null,
      }));
    const records = range
      ? iterateAudit(audit, { afterSeq: range.first - 1, throughSeq: range.last })
      : (async function* () {})();
    return { range, hostKeys, records };
  }

  /**
   * Deletes records older than `days` (default: the auditRetentionDays setting). The signed retention record
   * written in the deleting transaction names the actor; the event tells other subscribers.
   */
  async prune(actor: Actor, days?: number): Promise<PruneResult> {
    checkActor(actor);
    const retentionDays = days ?? this.#deps.config.auditRetentionDays;
    if (!Number.isSafeInteger(retentionDays) || retentionDays <= 0)
      throw new InvalidArgumentError('retention is off (auditRetentionDays is 0): give a number of days');
    const result = await this.#deps.audit.prune(retentionDays, actor.name);
    await this.#record.record(actor, 'audit.prune', 'audit trail', {
      retentionDays,
      before: result.before,
      deleted: result.deleted,
      ...(result.record ? { retentionSeq: result.record.seq } : {}),
    });
    return result;
  }
}
