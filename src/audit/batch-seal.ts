// One batch sealed inside the append transaction: seq, links and hashes, and a signed checkpoint wherever one falls due.
import type { Logger } from '../logger.js';
import type { AuditChainHead, AuditRecord } from '../store/types.js';
import { withFields } from '../util/with-fields.js';
import { type AuditFields, GENESIS_HASH, sealRecord } from './chain.js';
import { signedCheckpointFields } from './checkpoint.js';
import type { AuditSigner } from './signer.js';

/** A write waiting in the audit writer's queue, with the caller to tell once its batch committed or failed. */
export type PendingAuditWrite =
  | {
      readonly kind: 'entry';
      readonly fields: AuditFields;
      resolve(r: AuditRecord): void;
      reject(e: unknown): void;
    }
  | {
      /** 'checkpoint' is always written; 'due' only when the chain's newest record is not a checkpoint. */
      readonly kind: 'checkpoint' | 'due';
      resolve(r: AuditRecord | undefined): void;
      reject(e: unknown): void;
    };

export interface BatchSealContext {
  /** Signs checkpoints; without one, no checkpoint is written. */
  readonly signer: AuditSigner | undefined;
  readonly now: () => Date;
  readonly log: Logger;
  /** A signed checkpoint follows at most this many records in the chain (0: not by count). */
  readonly checkpointEveryRecords: number;
  /** Told when a checkpoint fell due by count but could not be signed. */
  readonly onUnsignedDue: () => void;
  /** The cluster node writing (`--node-id`): stamped on every record of the batch, checkpoints included. */
  readonly node?: string | undefined;
}

/**
 * Runs inside the append transaction with the head read there: assigns seq, links and hashes, and
 * inserts a signed checkpoint wherever the chain reaches the interval since its last checkpoint.
 * `outcomes` holds, per pending write, its record (undefined for a checkpoint not written).
 */
export function sealBatch(
  batch: readonly PendingAuditWrite[],
  head: AuditChainHead | undefined,
  context: BatchSealContext,
): { records: AuditRecord[]; outcomes: (AuditRecord | undefined)[] } {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  let lastCheckpoint = head?.lastCheckpointSeq ?? 0;
  const records: AuditRecord[] = [];
  const node = context.node;
  const add = (fields: AuditFields) => {
    const record = sealRecord(node !== undefined ? withFields(fields, { node }) : fields, seq + 1, prevHash);
    seq = record.seq;
    prevHash = record.hash;
    records.push(record);
    return record;
  };
  const checkpoint = (): AuditRecord | undefined => {
    const signer = context.signer;
    if (!signer) return undefined;
    let fields: AuditFields;
    try {
      fields = signedCheckpointFields(signer, context.now(), { seq, hash: prevHash });
    } catch (err) {
      // No unsigned checkpoint is ever written; the failure is logged, not hidden.
      context.log.error({ err }, 'audit checkpoint signing failed');
      return undefined;
    }
    lastCheckpoint = seq + 1;
    return add(fields);
  };
  const every = context.checkpointEveryRecords;
  const dueCheckpoint = () => {
    if (every <= 0 || seq - lastCheckpoint < every) return;
    if (!checkpoint()) context.onUnsignedDue();
  };
  const outcomes = batch.map((p) => {
    if (p.kind === 'checkpoint') return checkpoint();
    if (p.kind === 'due') return lastCheckpoint === seq ? undefined : checkpoint();
    if (p.kind !== 'entry') return undefined;
    // Before the record too: another process (without a signer) may have left the chain at the limit.
    dueCheckpoint();
    const record = add(p.fields);
    dueCheckpoint();
    return record;
  });
  return { records, outcomes };
}
