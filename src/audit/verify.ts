// Verification: walks a chain (the store, or an exported JSONL file) and reports the first broken record.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from '../errors.js';
import type { AuditAction, AuditRecord, AuditRepository } from '../store/types.js';
import { canonicalJson, computeHash, GENESIS_HASH, toExportRecord } from './chain.js';
import { iterateAudit } from './query.js';
import { type AuditVerifyKey, checkpointMessage } from './signer.js';

/** Where the walk must start: seq 1 at the genesis hash, the newest retention cut, or (exports) the first record. */
export interface ChainAnchor {
  readonly seq: number;
  readonly prevHash: string;
  readonly source: 'genesis' | 'retention' | 'first-record';
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly headHash?: string;
  readonly anchor?: ChainAnchor;
  readonly checkpoints: number;
  readonly signedCheckpoints: number;
  /** Signatures checked against the given public key (0 without one). */
  readonly verifiedSignatures: number;
  readonly lastCheckpointSeq?: number;
  /** The first broken record: its seq (or, for a missing one, the seq found in its place) and what is wrong. */
  readonly broken?: { readonly seq: number; readonly problem: string };
}

export interface VerifyOptions {
  /** Without one, the first record is the anchor (exports) unless it is seq 1, which must link to genesis. */
  readonly anchor?: ChainAnchor;
  readonly publicKey?: AuditVerifyKey;
}

const short = (hash: unknown) => (typeof hash === 'string' ? `${hash.slice(0, 12)}…` : String(hash));

/** What is wrong with a checkpoint, or undefined. */
function checkCheckpoint(
  record: AuditRecord,
  detail: unknown,
  key: AuditVerifyKey | undefined,
): { problem?: string; signed: boolean; verified: boolean } {
  const d = detail as {
    headSeq?: unknown;
    headHash?: unknown;
    signature?: unknown;
    publicKeySha256?: unknown;
  };
  if (d.headSeq !== record.seq - 1 || d.headHash !== record.prevHash) {
    return { problem: 'checkpoint does not attest the record before it', signed: false, verified: false };
  }
  if (d.signature === undefined) return { signed: false, verified: false };
  if (typeof d.signature !== 'string')
    return { problem: 'checkpoint signature is not base64 text', signed: true, verified: false };
  if (!key) return { signed: true, verified: false };
  if (d.publicKeySha256 !== key.fingerprint) {
    return {
      problem: `checkpoint was signed by key ${String(d.publicKeySha256)}, not by the given ${key.fingerprint}`,
      signed: true,
      verified: false,
    };
  }
  const message = checkpointMessage({
    seq: record.seq,
    at: record.at,
    headSeq: d.headSeq,
    headHash: d.headHash,
  });
  if (!key.verify(message, Buffer.from(d.signature, 'base64'))) {
    return { problem: 'checkpoint signature does not verify', signed: true, verified: false };
  }
  return { signed: true, verified: true };
}

/** Walks records in seq order; stops at the first problem. Errors thrown by `records` are reported as breaks. */
export async function verifyAuditChain(
  records: AsyncIterable<AuditRecord>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  let anchor = options.anchor;
  let count = 0;
  let firstSeq: number | undefined;
  let last: AuditRecord | undefined;
  let checkpoints = 0;
  let signedCheckpoints = 0;
  let verifiedSignatures = 0;
  let lastCheckpointSeq: number | undefined;
  const report = (broken?: { seq: number; problem: string }): VerifyReport => ({
    ok: broken === undefined,
    records: count,
    ...(firstSeq !== undefined ? { firstSeq } : {}),
    ...(last ? { lastSeq: last.seq, headHash: last.hash } : {}),
    ...(anchor ? { anchor } : {}),
    checkpoints,
    signedCheckpoints,
    verifiedSignatures,
    ...(lastCheckpointSeq !== undefined ? { lastCheckpointSeq } : {}),
    ...(broken ? { broken } : {}),
  });

  try {
    for await (const record of records) {
      const seq = record.seq;
      /** What this record's prevHash must equal, and how to name it. */
      let link: { hash: string; name: string };
      if (!last) {
        firstSeq = seq;
        anchor ??=
          seq === 1
            ? { seq: 1, prevHash: GENESIS_HASH, source: 'genesis' }
            : { seq, prevHash: record.prevHash, source: 'first-record' };
        if (seq !== anchor.seq) {
          return report({
            seq,
            problem: `the chain starts at seq ${seq}, but ${anchor.source === 'retention' ? 'the newest retention record keeps' : 'it must start at'} seq ${anchor.seq}`,
          });
        }
        link = { hash: anchor.prevHash, name: `the ${anchor.source} anchor` };
      } else if (seq !== last.seq + 1) {
        // A gap is reported at the first missing seq, the record that was deleted.
        return report({
          seq: last.seq + 1,
          problem:
            typeof seq === 'number' && seq > last.seq + 1
              ? `record${seq - 1 > last.seq + 1 ? `s ${last.seq + 1}..${seq - 1} are` : ' is'} missing (seq ${last.seq} is followed by seq ${seq})`
              : `seq ${seq} follows seq ${last.seq}: records out of order`,
        });
      } else {
        link = { hash: last.hash, name: `seq ${last.seq}` };
      }
      let detail: unknown;
      try {
        detail = JSON.parse(record.detail);
      } catch {
        return report({ seq, problem: 'detail is not valid JSON' });
      }
      if (canonicalJson(detail) !== record.detail)
        return report({ seq, problem: 'detail is not in canonical form' });
      const expected = computeHash({ ...toExportRecord(record), hash: undefined });
      if (expected !== record.hash) {
        return report({
          seq,
          problem: `content does not match its hash (stored ${short(record.hash)}, computed ${short(expected)})`,
        });
      }
      if (record.prevHash !== link.hash) {
        return report({
          seq,
          problem: `prevHash ${short(record.prevHash)} does not link to ${link.name} (${short(link.hash)}): the record before was altered or replaced`,
        });
      }
      if ((record.action as AuditAction) === 'checkpoint') {
        const result = checkCheckpoint(record, detail, options.publicKey);
        if (result.problem) return report({ seq, problem: result.problem });
        checkpoints++;
        lastCheckpointSeq = seq;
        if (result.signed) signedCheckpoints++;
        if (result.verified) verifiedSignatures++;
      }
      count++;
      last = record;
    }
  } catch (err) {
    return report({ seq: last ? last.seq + 1 : (anchor?.seq ?? 1), problem: (err as Error).message });
  }
  return report();
}

/** The anchor of a stored chain: the newest retention record's cut, else genesis. */
export async function storeAnchor(
  repository: AuditRepository,
): Promise<ChainAnchor | { seq: number; problem: string }> {
  const prune = await repository.latest('prune');
  if (!prune) return { seq: 1, prevHash: GENESIS_HASH, source: 'genesis' };
  try {
    const d = JSON.parse(prune.detail) as { firstKeptSeq?: unknown; prevHash?: unknown };
    if (typeof d.firstKeptSeq === 'number' && typeof d.prevHash === 'string') {
      return { seq: d.firstKeptSeq, prevHash: d.prevHash, source: 'retention' };
    }
  } catch {
    // reported below
  }
  return { seq: prune.seq, problem: 'retention record has no readable cut (firstKeptSeq, prevHash)' };
}

/** Verifies the chain held in a store, from the retention cut (or seq 1) to the newest record. */
export async function verifyAuditStore(
  repository: AuditRepository,
  options: { publicKey?: AuditVerifyKey } = {},
): Promise<VerifyReport> {
  const anchor = await storeAnchor(repository);
  if ('problem' in anchor) {
    return {
      ok: false,
      records: 0,
      checkpoints: 0,
      signedCheckpoints: 0,
      verifiedSignatures: 0,
      broken: anchor,
    };
  }
  return verifyAuditChain(iterateAudit(repository, {}), { anchor, ...options });
}

function nullableString(o: Record<string, unknown>, key: string, line: number): string | null {
  const v = o[key];
  if (v === null || typeof v === 'string') return v;
  throw new InvalidArgumentError(`line ${line}: ${key} must be a string or null`);
}

function requiredString(o: Record<string, unknown>, key: string, line: number): string {
  const v = o[key];
  if (typeof v === 'string') return v;
  throw new InvalidArgumentError(`line ${line}: ${key} must be a string`);
}

/** Parses one JSONL export line back into a stored-form record (detail re-serialized canonically). */
export function recordFromExportLine(text: string, line: number): AuditRecord {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`line ${line}: not JSON`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new InvalidArgumentError(`line ${line}: not a record`);
  const r = o as Record<string, unknown>;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq))
    throw new InvalidArgumentError(`line ${line}: seq must be an integer`);
  if (!('detail' in r)) throw new InvalidArgumentError(`line ${line}: detail missing`);
  return {
    seq: r.seq,
    at: requiredString(r, 'at', line),
    action: requiredString(r, 'action', line) as AuditAction,
    user: nullableString(r, 'user', line),
    sessionId: nullableString(r, 'sessionId', line),
    address: nullableString(r, 'address', line),
    protocol: nullableString(r, 'protocol', line),
    path: nullableString(r, 'path', line),
    target: nullableString(r, 'target', line),
    result: requiredString(r, 'result', line),
    reason: nullableString(r, 'reason', line),
    detail: canonicalJson(r.detail),
    prevHash: requiredString(r, 'prevHash', line),
    hash: requiredString(r, 'hash', line),
  };
}

/** Streams the records of a JSONL export (blank lines skipped). */
export async function* readExportFile(file: string): AsyncGenerator<AuditRecord> {
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    yield recordFromExportLine(text, n);
  }
}
