// Signed checkpoints: the record that attests the chain head (and, for retention, the cut) under a host key.
import type { AuditFields } from './chain.js';
import { toAuditFields } from './entries.js';
import { type AuditSigner, checkpointMessage, type RetentionCut } from './signer.js';

/** The detail of a checkpoint record as written. Every checkpoint is signed; there is no unsigned form. */
export interface CheckpointDetail {
  readonly headSeq: number;
  readonly headHash: string;
  readonly cut?: RetentionCut;
  readonly algorithm: string;
  readonly publicKeySha256: string;
  /** Base64 of the raw Ed25519 signature over checkpointMessage(). */
  readonly signature: string;
}

/**
 * The fields of checkpoint record `headSeq + 1`, signed. Throws when signing fails: a checkpoint that
 * cannot be signed is not written at all (verification refuses unsigned checkpoints).
 */
export function signedCheckpointFields(
  signer: AuditSigner,
  at: Date,
  head: { readonly seq: number; readonly hash: string },
  cut?: RetentionCut,
): AuditFields {
  const iso = at.toISOString();
  const message = checkpointMessage({
    seq: head.seq + 1,
    at: iso,
    headSeq: head.seq,
    headHash: head.hash,
    ...(cut ? { cut } : {}),
  });
  const detail: CheckpointDetail = {
    headSeq: head.seq,
    headHash: head.hash,
    ...(cut ? { cut } : {}),
    algorithm: signer.algorithm,
    publicKeySha256: signer.publicKeySha256,
    signature: signer.sign(message).toString('base64'),
  };
  return toAuditFields({ at, action: 'checkpoint', result: 'ok', detail: { ...detail } }, () => at);
}
