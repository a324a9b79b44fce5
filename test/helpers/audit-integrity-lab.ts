// The audit integrity tests' trails (signed checkpoints, an anchor log) and their insider: plain SQL on the store
// file with the same canonical hashing Ferry uses.
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { readAnchorLog } from '../../src/audit/anchors.js';
import { canonicalJson, computeHash, toExportRecord } from '../../src/audit/chain.js';
import {
  type AuditSigner,
  type AuditVerifyKey,
  ed25519AuditSigner,
  ed25519PublicKeyLine,
  parseAuditVerifyKey,
} from '../../src/audit/signer.js';
import { type VerifyOptions, verifyAuditStore } from '../../src/audit/verify.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { rootLogger } from '../../src/logger.js';
import { auditRecordFromRow } from '../../src/store/audit-repository.js';
import type { AuditLogTable } from '../../src/store/schema.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

const log = rootLogger.child({ logger: 'audit-test' }, { level: 'silent' });
/** Small, so a short chain already needs several checkpoints. */
export const INTERVAL = 5;
let trails = 0;

export interface HostKey {
  readonly signer: AuditSigner;
  readonly verifyKey: AuditVerifyKey;
}

export function hostKey(): HostKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    signer: ed25519AuditSigner(privateKey),
    verifyKey: parseAuditVerifyKey(ed25519PublicKeyLine(privateKey)),
  };
}

export interface Trail {
  readonly file: string;
  readonly anchors: string;
  readonly store: Store;
  readonly writer: AuditWriter;
  verify(
    options?: Omit<VerifyOptions, 'anchor' | 'anchors'> & { anchors?: string },
  ): ReturnType<typeof verifyAuditStore>;
  close(): Promise<void>;
}

/** A trail in `dir` whose writer signs a checkpoint every INTERVAL records and keeps an anchor log. */
export async function openTrail(dir: string, key: HostKey): Promise<Trail> {
  const n = ++trails;
  const file = join(dir, `t${n}.db`);
  const anchors = join(dir, `t${n}-anchors.log`);
  const store = await openSqliteStore(file);
  const writer = new AuditWriter({
    repository: store.audit,
    log,
    checkpointEveryMs: 0,
    checkpointEveryRecords: INTERVAL,
    signer: key.signer,
    anchorLog: anchors,
  });
  return {
    file,
    anchors,
    store,
    writer,
    verify: async ({ anchors: anchorFile, ...options } = {}) =>
      verifyAuditStore(store.audit, {
        publicKeys: [key.verifyKey],
        checkpointInterval: INTERVAL,
        ...(anchorFile !== undefined ? { anchors: await readAnchorLog(anchorFile) } : {}),
        ...options,
      }),
    close: async () => {
      await writer.close();
      await store.close();
    },
  };
}

/** `count` uploads, one a minute from `start`, written one after another (the writer checkpoints between). */
export async function uploads(writer: AuditWriter, count: number, start = new Date()): Promise<void> {
  for (let i = 0; i < count; i++) {
    await writer.append({
      at: new Date(start.getTime() + i * 60_000),
      action: 'upload',
      user: 'bob',
      path: `/in/f${i}.csv`,
      result: 'ok',
      detail: { bytes: 100 + i },
    });
  }
  await writer.flush();
}

// ---- the insider: plain SQL on the store file, and the same canonical hashing Ferry uses ----

/** A stored audit row, as SQLite returns it. */
export type Row = AuditLogTable;

export function withDb<T>(file: string, body: (db: SqliteDatabase.Database) => T): T {
  const db = new SqliteDatabase(file);
  try {
    return body(db);
  } finally {
    db.close();
  }
}

export const rows = (file: string): Row[] =>
  withDb(file, (db) => db.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Row[]);

export function hashRow(row: Omit<Row, 'hash'>): string {
  return computeHash(toExportRecord(auditRecordFromRow({ ...row, hash: '' })));
}

/**
 * Replaces the whole table with `edit(rows)`, renumbered from the first row's seq and re-linked and
 * re-hashed throughout; checkpoints left in are made to attest their new predecessor (signatures untouched).
 */
export function rewrite(file: string, edit: (rows: Row[]) => Row[]): void {
  const original = rows(file);
  const edited = edit(original.map((r) => ({ ...r })));
  const first = original[0]!;
  let prev: Row | undefined;
  const out = edited.map((r, i) => {
    const seq = first.seq + i;
    const prevHash = prev ? prev.hash : first.prev_hash;
    let detail = r.detail;
    if (r.action === 'checkpoint') {
      detail = canonicalJson({ ...JSON.parse(r.detail), headSeq: seq - 1, headHash: prevHash });
    }
    const unhashed = { ...r, seq, prev_hash: prevHash, detail };
    prev = { ...unhashed, hash: hashRow(unhashed) };
    return prev;
  });
  withDb(file, (db) => {
    db.transaction(() => {
      db.prepare('DELETE FROM audit_log').run();
      const insert = db.prepare(
        'INSERT INTO audit_log VALUES (@seq, @at, @action, @username, @session_id, @address, @protocol, @path, @target, @result, @reason, @detail, @prev_hash, @hash, @node)',
      );
      for (const r of out) insert.run(r);
    })();
  });
}

export function sql(file: string, statement: string, ...params: unknown[]): void {
  withDb(file, (db) => db.prepare(statement).run(...params));
}

/** The insider's own retention record, appended at the head and linked to it. */
export function forgePrune(file: string, firstKeptSeq: number, prevHash: string): number {
  const head = rows(file).at(-1)!;
  const at = new Date().toISOString();
  const row = {
    seq: head.seq + 1,
    at,
    action: 'prune',
    username: 'root',
    session_id: null,
    address: null,
    protocol: null,
    path: null,
    target: null,
    result: 'ok',
    reason: null,
    node: null,
    detail: canonicalJson({
      before: at,
      retentionDays: 7,
      deleted: firstKeptSeq - 1,
      firstKeptSeq,
      prevHash,
    }),
    prev_hash: head.hash,
  };
  sql(
    file,
    'INSERT INTO audit_log VALUES (@seq, @at, @action, @username, @session_id, @address, @protocol, @path, @target, @result, @reason, @detail, @prev_hash, @hash, @node)',
    { ...row, hash: hashRow(row) },
  );
  return row.seq;
}
