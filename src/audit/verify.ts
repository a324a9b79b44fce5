// Verification: walks a chain (the store, or an exported JSONL file) and reports the first broken record.
import type { AuditAction, AuditRecord, AuditRepository, HostKeyRepository } from '../store/types.js';
import type { AuditAnchor } from './anchors.js';
import { canonicalJson, computeHash, GENESIS_HASH, toExportRecord } from './chain.js';
import { iterateAudit } from './query.js';
import { type AuditVerifyKey, auditVerifyKeyFromBlob } from './signer.js';
import { type CheckpointDetailFields, checkCheckpoint, checkSignature, isCut } from './verify-checkpoint.js';
import { DEFAULT_CHECKPOINT_INTERVAL } from './writer.js';

/** Where the walk must start: seq 1 at the genesis hash, the newest retention cut, or (exports) the first record. */
export interface ChainAnchor {
  readonly seq: number;
  readonly prevHash: string;
  readonly source: 'genesis' | 'retention' | 'first-record';
  /** For a retention cut: the seq of the prune record; the signed retention checkpoint must follow it. */
  readonly pruneSeq?: number;
}

/** Which key signed which checkpoints. */
export interface SignerSummary {
  readonly fingerprint: string;
  readonly label?: string;
  readonly checkpoints: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly headHash?: string;
  readonly anchor?: ChainAnchor;
  readonly checkpoints: number;
  /** Every checkpoint must be signed, so this equals `checkpoints` in a report that is ok. */
  readonly signedCheckpoints: number;
  /** Signatures checked against the trusted keys. */
  readonly verifiedSignatures: number;
  readonly lastCheckpointSeq?: number;
  /** The keys that signed checkpoints, in the order they first signed. */
  readonly signers: readonly SignerSummary[];
  /** Signed checkpoints required at least every this many records (0: not required). */
  readonly checkpointInterval: number;
  /** Anchor-log entries matched against the chain (entries before its first record are not counted). */
  readonly anchorsChecked: number;
  /** The newest seq the anchor log attests, when one was read. */
  readonly newestAnchorSeq?: number;
  /** The first broken record: its seq (or, for a missing one, the seq found in its place) and what is wrong. */
  readonly broken?: { readonly seq: number; readonly problem: string };
}

export interface VerifyOptions {
  /** Without one, the first record is the anchor (exports) unless it is seq 1, which must link to genesis. */
  readonly anchor?: ChainAnchor;
  /** One trusted key (kept for callers that have one). */
  readonly publicKey?: AuditVerifyKey;
  /** The trusted keys: every checkpoint must be signed by one of them (current and retired host keys). */
  readonly publicKeys?: readonly AuditVerifyKey[];
  /** A signed checkpoint must follow at most this many records (default 1000, as the writer; 0: not checked). */
  readonly checkpointInterval?: number;
  /** Signed checkpoints kept outside the store: the chain must hold each one and must not end before it. */
  readonly anchors?: readonly AuditAnchor[];
}

const short = (hash: unknown) => (typeof hash === 'string' ? `${hash.slice(0, 12)}…` : String(hash));

/** Walks records in seq order; stops at the first problem. Errors thrown by `records` are reported as breaks. */
export async function verifyAuditChain(
  records: AsyncIterable<AuditRecord>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  let anchor = options.anchor;
  const keys = [...(options.publicKeys ?? []), ...(options.publicKey ? [options.publicKey] : [])];
  const interval = options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
  let count = 0;
  let firstSeq: number | undefined;
  let last: AuditRecord | undefined;
  let checkpoints = 0;
  let signedCheckpoints = 0;
  let verifiedSignatures = 0;
  let lastCheckpointSeq: number | undefined;
  /** Records since the last checkpoint (or the start of the walk). */
  let sinceCheckpoint = 0;
  let cutCovered = false;
  let anchorsChecked = 0;
  const signers = new Map<
    string,
    { label?: string; checkpoints: number; firstSeq: number; lastSeq: number }
  >();
  const anchorsBySeq = new Map<number, AuditAnchor>();
  let newestAnchor: AuditAnchor | undefined;
  for (const a of options.anchors ?? []) {
    anchorsBySeq.set(a.seq, a);
    if (!newestAnchor || a.seq > newestAnchor.seq) newestAnchor = a;
  }
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
    signers: [...signers].map(([fingerprint, s]) => ({ fingerprint, ...s })),
    checkpointInterval: interval,
    anchorsChecked,
    ...(newestAnchor ? { newestAnchorSeq: newestAnchor.seq } : {}),
    ...(broken ? { broken } : {}),
  });

  /** An anchor line that does not verify is itself a finding: the log was edited, or the keys are wrong. */
  const anchorProblem = (a: AuditAnchor): { seq: number; problem: string } | undefined => {
    const check = checkSignature(
      {
        seq: a.seq,
        at: a.at,
        headSeq: a.headSeq,
        headHash: a.headHash,
        ...(a.cut !== undefined ? { cut: a.cut } : {}),
      },
      a,
      keys,
    );
    return check.problem
      ? { seq: a.seq, problem: `anchor log entry for seq ${a.seq}: ${check.problem}` }
      : undefined;
  };

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
      const isCheckpoint = (record.action as AuditAction) === 'checkpoint';
      if (isCheckpoint) {
        const result = checkCheckpoint(record, detail, keys);
        if (result.problem) return report({ seq, problem: result.problem });
        checkpoints++;
        signedCheckpoints++;
        verifiedSignatures++;
        lastCheckpointSeq = seq;
        sinceCheckpoint = 0;
        const key = result.key!;
        const signer = signers.get(key.fingerprint);
        if (signer) {
          signer.checkpoints++;
          signer.lastSeq = seq;
        } else {
          signers.set(key.fingerprint, {
            ...(key.label !== undefined ? { label: key.label } : {}),
            checkpoints: 1,
            firstSeq: seq,
            lastSeq: seq,
          });
        }
      } else if (interval > 0 && ++sinceCheckpoint > interval) {
        return report({
          seq,
          problem: `no signed checkpoint within ${interval} records after ${lastCheckpointSeq !== undefined ? `the checkpoint at seq ${lastCheckpointSeq}` : `seq ${firstSeq}`} (one is written at least every ${interval}): checkpoints were removed or never signed`,
        });
      }
      const start = anchor;
      if (start?.pruneSeq !== undefined && seq === start.pruneSeq + 1) {
        // Only the checkpoint the pruning process wrote signs the cut; a later routine checkpoint would
        // sign whatever the chain then holds, including a retention record written by hand.
        const cut = (detail as CheckpointDetailFields).cut;
        cutCovered =
          isCheckpoint && isCut(cut) && cut.firstKeptSeq === start.seq && cut.prevHash === start.prevHash;
        if (!cutCovered) return report(uncoveredCut(start));
      }
      const anchored = anchorsBySeq.get(seq);
      if (anchored) {
        const forged = anchorProblem(anchored);
        if (forged) return report(forged);
        // headHash is the signed part of the anchor; the chain up to here already links to record.prevHash.
        if (anchored.headHash !== record.prevHash || anchored.hash !== record.hash) {
          return report({
            seq,
            problem: `differs from the anchor log, which holds a signed checkpoint at seq ${seq} attesting seq ${seq - 1} as ${short(anchored.headHash)} (store: ${short(record.prevHash)}): the chain was rewritten at or before seq ${seq}`,
          });
        }
        anchorsChecked++;
      }
      count++;
      last = record;
    }
  } catch (err) {
    return report({ seq: last ? last.seq + 1 : (anchor?.seq ?? 1), problem: (err as Error).message });
  }
  if (anchor?.pruneSeq !== undefined && !cutCovered) return report(uncoveredCut(anchor));
  if (newestAnchor && (!last || last.seq < newestAnchor.seq)) {
    const forged = anchorProblem(newestAnchor);
    if (forged) return report(forged);
    const end = last ? last.seq : 0;
    return report({
      seq: end + 1,
      problem: `the chain ends at seq ${end}, but the anchor log holds a signed checkpoint at seq ${newestAnchor.seq} (${newestAnchor.at}): records ${end + 1}..${newestAnchor.seq} at least were removed from the end`,
    });
  }
  return report();
}

function uncoveredCut(anchor: ChainAnchor): { seq: number; problem: string } {
  return {
    seq: anchor.pruneSeq ?? anchor.seq,
    problem: `retention record (cut before seq ${anchor.seq}) is not followed by a signed retention checkpoint for that cut: records before seq ${anchor.seq} were deleted without a signed retention`,
  };
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
      return { seq: d.firstKeptSeq, prevHash: d.prevHash, source: 'retention', pruneSeq: prune.seq };
    }
  } catch {
    // reported below
  }
  return { seq: prune.seq, problem: 'retention record has no readable cut (firstKeptSeq, prevHash)' };
}

/** The Ed25519 host keys a store holds, active and retired: the keys its checkpoints were signed with. */
export async function storeVerifyKeys(hostKeys: HostKeyRepository): Promise<AuditVerifyKey[]> {
  const keys: AuditVerifyKey[] = [];
  for (const k of await hostKeys.list()) {
    if (k.algorithm !== 'ssh-ed25519') continue;
    const key = auditVerifyKeyFromBlob(k.publicBlob);
    const label = `host key ${k.id}${k.active ? '' : k.retiredAt ? `, retired ${k.retiredAt.toISOString()}` : ', retired'}`;
    keys.push({ ...key, label, verify: key.verify });
  }
  return keys;
}

/** Verifies the chain held in a store, from the retention cut (or seq 1) to the newest record. */
export async function verifyAuditStore(
  repository: AuditRepository,
  options: Omit<VerifyOptions, 'anchor'> = {},
): Promise<VerifyReport> {
  const anchor = await storeAnchor(repository);
  if ('problem' in anchor) {
    return {
      ok: false,
      records: 0,
      checkpoints: 0,
      signedCheckpoints: 0,
      verifiedSignatures: 0,
      signers: [],
      checkpointInterval: options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL,
      anchorsChecked: 0,
      broken: anchor,
    };
  }
  return verifyAuditChain(iterateAudit(repository, {}), { anchor, ...options });
}
