// Retention: delete records older than the cut, leaving a retention record and a signed retention checkpoint.
import { InvalidArgumentError } from '../errors.js';
import type { AuditRecord, AuditRepository } from '../store/types.js';
import { type AuditFields, sealRecord } from './chain.js';
import { signedCheckpointFields } from './checkpoint.js';
import { toAuditFields } from './entries.js';
import type { AuditSigner } from './signer.js';
import { AuditUnsignedError } from './unsigned-error.js';

const DAY_MS = 86_400_000;

export interface PruneResult {
  /** Records deleted (0 when nothing was older than the cut). */
  readonly deleted: number;
  /** ISO time: records older than this were deleted. */
  readonly before: string;
  /** The retention record written, when something was deleted. */
  readonly record?: AuditRecord;
  /** The signed checkpoint written right after it, whose signature covers the cut. */
  readonly checkpoint?: AuditRecord;
}

/**
 * Deletes records older than `retentionDays` and, in the same transaction, appends a `prune` record
 * naming the first kept seq and the hash it links to, then a checkpoint whose signature covers that cut.
 * Verification starts from the newest prune record's cut only when that signed checkpoint follows it, so
 * a retention record an insider writes by hand (to cover records deleted from the start) is refused.
 * Without a signer nothing is deleted.
 */
export async function pruneAuditTrail(
  repository: AuditRepository,
  options: {
    retentionDays: number;
    now?: Date;
    actor?: string | null;
    signer?: AuditSigner;
    /** The cluster node pruning (stamped on its two records). */
    node?: string | undefined;
  },
): Promise<PruneResult> {
  if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0) {
    throw new InvalidArgumentError('retention must be a positive number of days (0 keeps records forever)');
  }
  const now = options.now ?? new Date();
  const before = new Date(now.getTime() - options.retentionDays * DAY_MS).toISOString();
  const stamp = (fields: AuditFields): AuditFields =>
    options.node !== undefined ? { ...fields, node: options.node } : fields;
  const pruned = await repository.prune(before, (cut, head) => {
    if (!options.signer) throw new AuditUnsignedError();
    const prune = sealRecord(
      stamp(
        toAuditFields(
          {
            at: now,
            action: 'prune',
            user: options.actor ?? null,
            result: 'ok',
            detail: {
              before,
              retentionDays: options.retentionDays,
              deleted: cut.deleted,
              firstKeptSeq: cut.firstKeptSeq,
              prevHash: cut.prevHash,
            },
          },
          () => now,
        ),
      ),
      head.seq + 1,
      head.hash,
    );
    const cutClaim = { firstKeptSeq: cut.firstKeptSeq, prevHash: cut.prevHash };
    const checkpoint = sealRecord(
      stamp(signedCheckpointFields(options.signer, now, prune, cutClaim)),
      prune.seq + 1,
      prune.hash,
    );
    return [prune, checkpoint];
  });
  if (!pruned) return { deleted: 0, before };
  const [record, checkpoint] = pruned.records;
  return {
    deleted: pruned.cut.deleted,
    before,
    ...(record ? { record } : {}),
    ...(checkpoint ? { checkpoint } : {}),
  };
}
