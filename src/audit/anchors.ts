// The anchor log: every signed checkpoint also goes to an append-only file outside the store, so a chain
// cut short at its newest end (records deleted after the last checkpoint an outsider saw) is detectable.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from '../errors.js';
import type { AuditRecord } from '../store/types.js';
import type { CheckpointDetail } from './checkpoint.js';
import type { RetentionCut } from './signer.js';

/** Default file name in the data dir. */
export const ANCHOR_LOG_NAME = 'audit-anchors.log';

/** One line of the anchor log: a signed checkpoint, with everything needed to check its signature alone. */
export interface AuditAnchor {
  /** The checkpoint record's seq and hash: the store's chain must hold exactly this record. */
  readonly seq: number;
  readonly hash: string;
  /** When the checkpoint was written (its `at`, part of the signed claim). */
  readonly at: string;
  readonly headSeq: number;
  readonly headHash: string;
  readonly cut?: RetentionCut;
  readonly algorithm: string;
  readonly publicKeySha256: string;
  readonly signature: string;
}

/** The anchor of a signed checkpoint record; undefined for any other record. */
export function anchorFromCheckpoint(record: AuditRecord): AuditAnchor | undefined {
  if (record.action !== 'checkpoint') return undefined;
  const d = JSON.parse(record.detail) as Partial<CheckpointDetail>;
  if (typeof d.signature !== 'string' || typeof d.publicKeySha256 !== 'string') return undefined;
  return {
    seq: record.seq,
    hash: record.hash,
    at: record.at,
    headSeq: record.seq - 1,
    headHash: record.prevHash,
    ...(d.cut ? { cut: d.cut } : {}),
    algorithm: String(d.algorithm),
    publicKeySha256: d.publicKeySha256,
    signature: d.signature,
  };
}

/**
 * Appends one JSON line. O_APPEND (flag 'a'): each line is one write at the file's end, so processes
 * sharing the file never overwrite each other, and nothing here ever rewrites or truncates it.
 */
export async function appendAnchor(file: string, anchor: AuditAnchor): Promise<void> {
  const handle = await open(file, 'a', 0o600);
  try {
    await handle.write(`${JSON.stringify(anchor)}\n`);
  } finally {
    await handle.close();
  }
}

function parseAnchorLine(text: string, line: number): AuditAnchor {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`anchor log line ${line}: not JSON`);
  }
  const a = o as Partial<AuditAnchor> | null;
  const isString = (v: unknown) => typeof v === 'string';
  if (
    typeof a !== 'object' ||
    a === null ||
    !Number.isSafeInteger(a.seq) ||
    !Number.isSafeInteger(a.headSeq) ||
    ![a.hash, a.at, a.headHash, a.algorithm, a.publicKeySha256, a.signature].every(isString)
  ) {
    throw new InvalidArgumentError(`anchor log line ${line}: not a checkpoint anchor`);
  }
  return a as AuditAnchor;
}

/** Reads every anchor of a log (blank lines skipped); throws naming the first malformed line. */
export async function readAnchorLog(file: string): Promise<AuditAnchor[]> {
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  const anchors: AuditAnchor[] = [];
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() !== '') anchors.push(parseAnchorLine(text, n));
  }
  return anchors;
}
