// Test records for the store's audit chain: each names the one before it by a SHA-256 over its detail, so a writer
// that built on a stale head shows as a fork, a gap or a duplicate seq.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AuditAction, AuditChainHead, AuditRecord } from './types.js';

const linkHash = (prevHash: string, seq: number, detail: string) =>
  createHash('sha256').update(`${prevHash}|${seq}|${detail}`).digest('hex');

/** The record after `head` (none: the first), by `user`, carrying `detail`. */
export function linkedRecord(
  head: AuditChainHead | undefined,
  user: string,
  detail: string = user,
  action: AuditAction = 'auth',
): AuditRecord {
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? 'genesis';
  return {
    seq,
    at: new Date().toISOString(),
    action,
    user,
    sessionId: null,
    address: null,
    protocol: null,
    path: null,
    target: null,
    result: 'ok',
    reason: null,
    detail,
    prevHash,
    hash: linkHash(prevHash, seq, detail),
  };
}

/** Asserts `records` (the whole trail, in seq order) are one line: seq 1, 2, 3… each linked to the one before. */
export function assertLinearChain(records: readonly AuditRecord[]): void {
  let prevHash = 'genesis';
  for (const [i, r] of records.entries()) {
    assert.equal(r.seq, i + 1, 'no gap and no duplicate seq');
    assert.equal(r.prevHash, prevHash, `record ${r.seq} names the record before it`);
    assert.equal(r.hash, linkHash(prevHash, r.seq, r.detail));
    prevHash = r.hash;
  }
}
