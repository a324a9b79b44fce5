// Retention: delete records older than the cut, leaving a retention record in the chain that anchors what is kept.
import { InvalidArgumentError } from '../errors.js';
import type { AuditRecord, AuditRepository } from '../store/types.js';
import { sealRecord } from './chain.js';
import { toAuditFields } from './entries.js';

const DAY_MS = 86_400_000;

export interface PruneResult {
  /** Records deleted (0 when nothing was older than the cut). */
  readonly deleted: number;
  /** ISO time: records older than this were deleted. */
  readonly before: string;
  /** The retention record written, when something was deleted. */
  readonly record?: AuditRecord;
}

/**
 * Deletes records older than `retentionDays` and, in the same transaction, appends a `prune` record
 * naming the first kept seq and the hash it links to. Verification starts from the newest prune
 * record's anchor, so anything removed beyond the cut (or left before it) is still reported.
 */
export async function pruneAuditTrail(
  repository: AuditRepository,
  options: { retentionDays: number; now?: Date; actor?: string | null },
): Promise<PruneResult> {
  if (!Number.isFinite(options.retentionDays) || options.retentionDays <= 0) {
    throw new InvalidArgumentError('retention must be a positive number of days (0 keeps records forever)');
  }
  const now = options.now ?? new Date();
  const before = new Date(now.getTime() - options.retentionDays * DAY_MS).toISOString();
  const pruned = await repository.prune(before, (cut, head) => [
    sealRecord(
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
      head.seq + 1,
      head.hash,
    ),
  ]);
  if (!pruned) return { deleted: 0, before };
  return { deleted: pruned.cut.deleted, before, ...(pruned.records[0] ? { record: pruned.records[0] } : {}) };
}
