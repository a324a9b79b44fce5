// AuditRepository over kysely: chain appends and prunes read the head and write in one exclusive transaction.
import type { CompiledQuery as Compiled, Kysely, Selectable } from 'kysely';
import { CompiledQuery } from './kysely.js';
import type { AuditLogTable, Database } from './schema.js';
import type {
  AuditAction,
  AuditChainHead,
  AuditCut,
  AuditPageQuery,
  AuditRecord,
  AuditRepository,
} from './types.js';
import { type WriteTransactionOptions, writeTransaction } from './write-transaction.js';

/**
 * The write transaction's options (write-transaction.ts), which for the audit chain must exclude every other
 * writer from the first statement on: PostgreSQL adds `LOCK TABLE audit_log IN EXCLUSIVE MODE` to its `BEGIN`.
 */
export interface AuditRepositoryOptions extends WriteTransactionOptions {
  /**
   * A statement answering one number that differs whenever another connection has committed since this one
   * last asked (SQLite: `PRAGMA data_version`). Given it, an append reuses the head its connection wrote last
   * instead of reading it, unless the number moved: see KyselyAuditRepository#known.
   */
  readonly changeCounter?: string;
}

/** Rows per INSERT: 15 columns each, well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 64;

/** The chain's head once `records` follow `head`. */
function headAfter(
  head: AuditChainHead | undefined,
  records: readonly AuditRecord[],
): AuditChainHead | undefined {
  const last = records.at(-1);
  if (last === undefined) return head;
  let checkpoint = head?.lastCheckpointSeq;
  for (const record of records) if (record.action === 'checkpoint') checkpoint = record.seq;
  return checkpoint === undefined
    ? { seq: last.seq, hash: last.hash }
    : { seq: last.seq, hash: last.hash, lastCheckpointSeq: checkpoint };
}

/** A stored row as the record it holds (also what tests that play an insider hash rows with). */
export function auditRecordFromRow(row: Selectable<AuditLogTable>): AuditRecord {
  return {
    seq: row.seq,
    at: row.at,
    // Stored rows are reported as they are; audit/ verification judges them, not this mapping.
    action: row.action as AuditAction,
    user: row.username,
    sessionId: row.session_id,
    address: row.address,
    protocol: row.protocol,
    path: row.path,
    target: row.target,
    result: row.result,
    reason: row.reason,
    detail: row.detail,
    prevHash: row.prev_hash,
    hash: row.hash,
    ...(row.node !== null ? { node: row.node } : {}),
  };
}

/** The columns of a row in the order the cached INSERT texts list them and their parameters follow. */
const COLUMNS = [
  'seq',
  'at',
  'action',
  'username',
  'session_id',
  'address',
  'protocol',
  'path',
  'target',
  'result',
  'reason',
  'detail',
  'prev_hash',
  'hash',
  'node',
] as const satisfies readonly (keyof AuditLogTable)[];

/** The INSERT's parameters: each row's COLUMNS in order (a loop: `flatMap` is several times slower on Node 20). */
function valuesOf(rows: readonly AuditLogTable[]): unknown[] {
  const values: unknown[] = [];
  for (const row of rows) for (const column of COLUMNS) values.push(row[column]);
  return values;
}

interface HeadRow {
  readonly seq: number;
  readonly hash: string;
  readonly checkpoint_seq: number | string | null;
}

function toRow(r: AuditRecord): AuditLogTable {
  return {
    seq: r.seq,
    at: r.at,
    action: r.action,
    username: r.user,
    session_id: r.sessionId,
    address: r.address,
    protocol: r.protocol,
    path: r.path,
    target: r.target,
    result: r.result,
    reason: r.reason,
    detail: r.detail,
    prev_hash: r.prevHash,
    hash: r.hash,
    node: r.node ?? null,
  };
}

export class KyselyAuditRepository implements AuditRepository {
  readonly #db: Kysely<Database>;
  readonly #options: AuditRepositoryOptions;
  /**
   * Every audit batch asks for the head and inserts its records: kysely would build and compile both queries
   * again each time, which costs more than the database running them. Compiled once (the head) and once per
   * row count (the INSERT's text; parameters are bound per call).
   */
  #headQuery: Compiled | undefined;
  readonly #insertTexts = new Map<number, string>();
  /**
   * The head this connection's last committed append left, and the change counter read in that transaction.
   * Reading the head was ~80 µs of every audit batch on a busy server (a small file's upload is one batch);
   * asking the counter is a few. Every audit transaction takes it when it begins (in the order they run on the
   * connection); an append that commits puts back the head it left, unless a later one has begun meanwhile.
   */
  #known: { readonly head: AuditChainHead; readonly counter: unknown } | undefined;
  /** Audit transactions begun on this repository's connection, in the order they ran. */
  #begun = 0;

  constructor(db: Kysely<Database>, options: AuditRepositoryOptions) {
    this.#db = db;
    this.#options = options;
  }

  async append(build: (head: AuditChainHead | undefined) => AuditRecord[]): Promise<AuditRecord[]> {
    let turn = 0;
    let next: AuditChainHead | undefined;
    let counter: unknown;
    const records = await this.#write(async (trx) => {
      const known = this.#take();
      turn = this.#begun;
      counter = await this.#changeCounter(trx);
      // Our own commits leave the counter as it was; another connection's (a worker, a CLI command) move it.
      const head =
        known !== undefined && counter !== undefined && counter === known.counter
          ? known.head
          : await this.#head(trx);
      const built = build(head);
      await this.#insert(trx, built);
      next = headAfter(head, built);
      return built;
    });
    // Committed. A transaction begun since found nothing to reuse and read the head itself.
    if (turn === this.#begun && next !== undefined && counter !== undefined)
      this.#known = { head: next, counter };
    return records;
  }

  async page(query: AuditPageQuery): Promise<AuditRecord[]> {
    let q = this.#db.selectFrom('audit_log').selectAll();
    if (query.afterSeq !== undefined) q = q.where('seq', '>', query.afterSeq);
    if (query.throughSeq !== undefined) q = q.where('seq', '<=', query.throughSeq);
    if (query.user !== undefined) q = q.where('username', '=', query.user);
    if (query.actions !== undefined && query.actions.length > 0)
      q = q.where('action', 'in', [...query.actions]);
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    if (query.until !== undefined) q = q.where('at', '<', query.until);
    return (await q.orderBy('seq').limit(query.limit).execute()).map(auditRecordFromRow);
  }

  async tail(count: number): Promise<AuditRecord[]> {
    const rows = await this.#db
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(count)
      .execute();
    return rows.reverse().map(auditRecordFromRow);
  }

  async latest(action: AuditAction): Promise<AuditRecord | undefined> {
    const row = await this.#db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', action)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? auditRecordFromRow(row) : undefined;
  }

  async seqRange(since?: string, until?: string): Promise<{ first: number; last: number } | undefined> {
    let q = this.#db
      .selectFrom('audit_log')
      .select((eb) => [eb.fn.min('seq').as('first'), eb.fn.max('seq').as('last')]);
    if (since !== undefined) q = q.where('at', '>=', since);
    if (until !== undefined) q = q.where('at', '<', until);
    const row = await q.executeTakeFirst();
    if (row?.first == null || row.last == null) return undefined;
    return { first: Number(row.first), last: Number(row.last) };
  }

  prune(
    before: string,
    build: (cut: AuditCut, head: AuditChainHead) => AuditRecord[],
  ): Promise<{ cut: AuditCut; records: AuditRecord[] } | undefined> {
    return this.#write(async (trx) => {
      // It deletes records (perhaps the newest checkpoint) and adds its own: the next append reads the head.
      this.#take();
      const last = await trx
        .selectFrom('audit_log')
        .select(['seq', 'hash'])
        .where('at', '<', before)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const head = await this.#head(trx);
      if (!last || !head) return undefined;
      const result = await trx.deleteFrom('audit_log').where('seq', '<=', last.seq).executeTakeFirst();
      const cut: AuditCut = {
        firstKeptSeq: last.seq + 1,
        prevHash: last.hash,
        deleted: Number(result.numDeletedRows),
      };
      const records = build(cut, head);
      await this.#insert(trx, records);
      return { cut, records };
    });
  }

  async #head(trx: Kysely<Database>): Promise<AuditChainHead | undefined> {
    // One statement per batch (the head and its newest checkpoint): every audit batch asks this first.
    // The (action, seq) index answers the subquery from its last entry.
    this.#headQuery ??= trx
      .selectFrom('audit_log')
      .select((eb) => [
        'seq',
        'hash',
        eb
          .selectFrom('audit_log as checkpoint')
          .select('checkpoint.seq')
          .where('checkpoint.action', '=', 'checkpoint')
          .orderBy('checkpoint.seq', 'desc')
          .limit(1)
          .as('checkpoint_seq'),
      ])
      .orderBy('seq', 'desc')
      .limit(1)
      .compile();
    const head = (await trx.executeQuery<HeadRow>(this.#headQuery)).rows[0];
    if (!head) return undefined;
    const { checkpoint_seq: checkpointSeq, ...chain } = head;
    return checkpointSeq == null ? chain : { ...chain, lastCheckpointSeq: Number(checkpointSeq) };
  }

  /** Begins an audit transaction: counts it and takes the known head, which nobody else may use now. */
  #take(): { readonly head: AuditChainHead; readonly counter: unknown } | undefined {
    this.#begun++;
    const known = this.#known;
    this.#known = undefined;
    return known;
  }

  async #changeCounter(trx: Kysely<Database>): Promise<unknown> {
    const statement = this.#options.changeCounter;
    if (statement === undefined) return undefined;
    const row = (await trx.executeQuery<Record<string, unknown>>(CompiledQuery.raw(statement))).rows[0];
    return row === undefined ? undefined : Object.values(row)[0];
  }

  async #insert(trx: Kysely<Database>, records: readonly AuditRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += INSERT_CHUNK) {
      const rows = records.slice(i, i + INSERT_CHUNK).map(toRow);
      await trx.executeQuery(CompiledQuery.raw(this.#insertText(trx, rows.length), valuesOf(rows)));
    }
  }

  /** The INSERT of `count` rows in this dialect, columns in COLUMNS order (compiled from placeholder rows). */
  #insertText(trx: Kysely<Database>, count: number): string {
    let text = this.#insertTexts.get(count);
    if (text === undefined) {
      const placeholder = Object.fromEntries(
        COLUMNS.map((column) => [column, null]),
      ) as unknown as AuditLogTable;
      text = trx
        .insertInto('audit_log')
        .values(Array.from({ length: count }, () => placeholder))
        .compile().sql;
      this.#insertTexts.set(count, text);
    }
    return text;
  }

  /** One exclusive write transaction on one connection; retried while another process holds the lock. */
  #write<T>(body: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return writeTransaction(this.#db, this.#options, body);
  }
}
