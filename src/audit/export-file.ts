// JSONL exports of the trail read back for verification: their records, and the host keys in their leading lines.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from '../errors.js';
import type { AuditAction, AuditRecord } from '../store/types.js';
import { canonicalJson } from './chain.js';
import { type AuditVerifyKey, auditVerifyKeyFromBlob } from './signer.js';

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
  // Absent on records no node wrote (and on every record of older exports); present, it is hashed.
  const node = 'node' in r ? requiredString(r, 'node', line) : undefined;
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
    ...(node !== undefined ? { node } : {}),
  };
}

/** A host key line of a JSONL export: `{"hostKey":"ssh-ed25519 AAAA...",...}`, written before the records. */
const isHostKeyLine = (text: string) => text.startsWith('{"hostKey":');

/** Streams the records of a JSONL export (blank lines and host key lines skipped). */
export async function* readExportFile(file: string): AsyncGenerator<AuditRecord> {
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '' || isHostKeyLine(text)) continue;
    yield recordFromExportLine(text, n);
  }
}

/** The host keys an export carries in its leading lines (the store's Ed25519 keys, retired ones too). */
export async function readExportKeys(file: string): Promise<AuditVerifyKey[]> {
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  const keys: AuditVerifyKey[] = [];
  let n = 0;
  for await (const text of lines) {
    n++;
    if (text.trim() === '') continue;
    if (!isHostKeyLine(text)) break;
    const line = JSON.parse(text) as { hostKey?: unknown; id?: unknown; retiredAt?: unknown };
    const [algorithm, b64] = String(line.hostKey).split(' ');
    if (algorithm !== 'ssh-ed25519' || b64 === undefined)
      throw new InvalidArgumentError(`line ${n}: host key is not an ssh-ed25519 key`);
    const key = auditVerifyKeyFromBlob(Buffer.from(b64, 'base64'));
    const retired = typeof line.retiredAt === 'string' ? `, retired ${line.retiredAt}` : '';
    keys.push({ ...key, label: `host key ${String(line.id)}${retired}, from the export` });
  }
  lines.close();
  return keys;
}
