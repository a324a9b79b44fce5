// Checkpoint checks for verification: a checkpoint attests the record before it and is signed by a trusted key.
import type { AuditRecord } from '../store/types.js';
import { type AuditVerifyKey, type CheckpointClaim, checkpointMessage, type RetentionCut } from './signer.js';

export interface SignatureCheck {
  readonly problem?: string;
  readonly key?: AuditVerifyKey;
}

/** Checks one signed claim (a checkpoint record's or an anchor line's) against the trusted keys. */
export function checkSignature(
  claim: CheckpointClaim,
  signed: { publicKeySha256?: unknown; signature?: unknown },
  keys: readonly AuditVerifyKey[],
): SignatureCheck {
  if (signed.signature === undefined)
    return { problem: 'checkpoint is not signed (every checkpoint must be)' };
  if (typeof signed.signature !== 'string') return { problem: 'checkpoint signature is not base64 text' };
  const fingerprint = String(signed.publicKeySha256);
  if (keys.length === 0) {
    return {
      problem: `checkpoint is signed by key ${fingerprint}, but no public key was given or stored to check it (give --public-key)`,
    };
  }
  const key = keys.find((k) => k.fingerprint === fingerprint);
  if (!key) {
    return {
      problem: `checkpoint was signed by key ${fingerprint}, not by any trusted key (${keys.map((k) => k.fingerprint).join(', ')})`,
    };
  }
  let valid: boolean;
  try {
    valid = key.verify(checkpointMessage(claim), Buffer.from(signed.signature, 'base64'));
  } catch {
    // A claim or signature of the wrong shape is a bad signature, not a crash of the verifier.
    valid = false;
  }
  return valid ? { key } : { problem: 'checkpoint signature does not verify' };
}

export interface CheckpointDetailFields {
  headSeq?: unknown;
  headHash?: unknown;
  cut?: unknown;
  signature?: unknown;
  publicKeySha256?: unknown;
}

export function isCut(value: unknown): value is RetentionCut {
  const c = value as RetentionCut | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.firstKeptSeq === 'number' &&
    typeof c.prevHash === 'string'
  );
}

/** What is wrong with a checkpoint record, or the key that signed it. */
export function checkCheckpoint(
  record: AuditRecord,
  detail: unknown,
  keys: readonly AuditVerifyKey[],
): SignatureCheck {
  const d = detail as CheckpointDetailFields;
  if (d.headSeq !== record.seq - 1 || d.headHash !== record.prevHash) {
    return { problem: 'checkpoint does not attest the record before it' };
  }
  if (d.cut !== undefined && !isCut(d.cut)) return { problem: 'checkpoint has a malformed retention cut' };
  return checkSignature(
    {
      seq: record.seq,
      at: record.at,
      headSeq: d.headSeq,
      headHash: d.headHash,
      ...(d.cut !== undefined ? { cut: d.cut } : {}),
    },
    d,
    keys,
  );
}
