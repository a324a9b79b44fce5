// The hash chain: canonical serialization of a record, its SHA-256 link to the previous one, and sealing.
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import type { AuditRecord } from '../store/types.js';
import { withFields } from '../util/with-fields.js';

/** prevHash of the first record ever written (seq 1). */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings as
 * JSON.stringify writes them, undefined object members left out. For the values audit records hold
 * (strings, finite numbers, booleans, null, arrays, plain objects) this is RFC 8785 (JCS), so an
 * auditor can recompute a hash in any language.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError('audit data cannot hold NaN or Infinity');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
      // One string built in a loop (every record is serialized once when sealed): no filtered, mapped and
      // joined arrays per object.
      const object = value as Record<string, unknown>;
      let text = '{';
      for (const key of Object.keys(object).sort()) {
        const member = object[key];
        if (member === undefined) continue;
        if (text.length > 1) text += ',';
        text += `${JSON.stringify(key)}:${canonicalJson(member)}`;
      }
      return `${text}}`;
    }
    default:
      throw new InvalidArgumentError(`audit data cannot hold a ${typeof value}`);
  }
}

/** A record as exported (JSONL) and as hashed: the stored fields with `detail` as a JSON object. */
export type AuditExportRecord = Omit<AuditRecord, 'action' | 'detail'> & {
  /** As read back from an export: checked against the known actions only where that matters. */
  readonly action: string;
  readonly detail: unknown;
};

/** Throws when the stored detail text is not JSON. */
export function toExportRecord(r: AuditRecord): AuditExportRecord {
  return {
    seq: r.seq,
    at: r.at,
    action: r.action,
    user: r.user,
    sessionId: r.sessionId,
    address: r.address,
    protocol: r.protocol,
    path: r.path,
    target: r.target,
    result: r.result,
    reason: r.reason,
    detail: JSON.parse(r.detail) as unknown,
    prevHash: r.prevHash,
    hash: r.hash,
    // Only when set: a record without a node hashes exactly as records did before nodes were recorded.
    ...(r.node !== undefined ? { node: r.node } : {}),
  };
}

/**
 * hash = lowercase hex SHA-256 of the UTF-8 canonical JSON of the export record without `hash`.
 * `prevHash` and `seq` are inside it, so a record cannot be edited, moved or unlinked without the
 * recomputed hash or the next record's link disagreeing.
 */
export function computeHash(record: Omit<AuditExportRecord, 'hash'> & { hash?: unknown }): string {
  const { hash: _ignored, ...hashed } = record;
  return createHash('sha256').update(canonicalJson(hashed), 'utf8').digest('hex');
}

/** What a writer supplies; the chain adds seq, prevHash and hash. */
export type AuditFields = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>;

export function sealRecord(fields: AuditFields, seq: number, prevHash: string): AuditRecord {
  const unsealed = withFields(fields, { seq, prevHash });
  const hash = computeHash(withFields(unsealed, { detail: JSON.parse(fields.detail) as unknown }));
  return withFields(unsealed, { hash });
}
