// Trails for the audit chain tests: a SQLite store with its writer in a temp dir, ten varied records, and
// tampering with the stored rows behind the writer's back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { AuditWriter } from '../../src/audit/writer.js';
import { rootLogger } from '../../src/logger.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

const log = rootLogger.child({ logger: 'audit-test' }, { level: 'silent' });

export interface Trail {
  file: string;
  store: Store;
  writer: AuditWriter;
  close(): Promise<void>;
}

async function openTrailIn(
  dir: string,
  options: Partial<ConstructorParameters<typeof AuditWriter>[0]> = {},
): Promise<Trail> {
  const file = join(dir, `t${++trails}.db`);
  const store = await openSqliteStore(file);
  const writer = new AuditWriter({ repository: store.audit, log, checkpointEveryMs: 0, ...options });
  return {
    file,
    store,
    writer,
    close: async () => {
      await writer.close();
      await store.close();
    },
  };
}

/** Ten varied records: uploads with details, a rename, a denied delete, an admin change. */
export async function writeTen(
  writer: AuditWriter,
  start = new Date('2026-03-01T00:00:00.000Z'),
): Promise<void> {
  const at = (i: number) => new Date(start.getTime() + i * 60_000);
  await Promise.all([
    writer.append({
      at: at(0),
      action: 'connect',
      sessionId: 's1',
      address: '10.0.0.1',
      result: 'ok',
      detail: { cipher: 'aes128-gcm@openssh.com' },
    }),
    writer.append({
      at: at(1),
      action: 'auth',
      sessionId: 's1',
      user: 'bob',
      result: 'ok',
      detail: { method: 'publickey' },
    }),
    ...[2, 3, 4, 5].map((i) =>
      writer.append({
        at: at(i),
        action: 'upload',
        user: 'bob',
        path: `/in/f${i}.bin`,
        result: 'ok',
        detail: { bytes: i * 100, sha256: 'ab'.repeat(32) },
      }),
    ),
    writer.append({
      at: at(6),
      action: 'rename',
      user: 'bob',
      path: '/in/f2.bin',
      target: '/out/f2.bin',
      result: 'ok',
    }),
    writer.append({
      at: at(7),
      action: 'delete',
      user: 'bob',
      path: '/etc',
      result: 'denied',
      reason: 'permission denied',
    }),
    writer.recordAdmin({ command: 'users add', subject: 'carol', changes: { password: 'set' } }, 'root'),
    writer.append({
      at: at(9),
      action: 'disconnect',
      sessionId: 's1',
      user: 'bob',
      result: 'ok',
      detail: { bytesIn: 5, bytesOut: 6 },
    }),
  ]);
}

/** Changes the stored trail behind the writer's back, as someone with the database file could. */
export function tamper(file: string, sql: string, ...params: unknown[]): void {
  const db = new SqliteDatabase(file);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

let trails = 0;

/**
 * Registers a temp dir for the calling test file (removed after it) and returns how to open a trail in it.
 */
export function trailsInTempDir(): (
  options?: Partial<ConstructorParameters<typeof AuditWriter>[0]>,
) => Promise<Trail> {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-audit-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));
  return (options) => openTrailIn(dir, options);
}
