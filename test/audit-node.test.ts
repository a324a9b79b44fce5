// The node that wrote each audit record: stored, exported and hashed; records from before nodes were recorded
// verify as they always did, and an insider who adds, changes or removes a record's node breaks the chain.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { canonicalJson, toExportRecord } from '../src/audit/chain.js';
import { readExportFile } from '../src/audit/export-file.js';
import { formatCsvRow, formatJsonLine, formatRecordLine } from '../src/audit/query.js';
import { ed25519AuditSigner, ed25519PublicKeyLine, parseAuditVerifyKey } from '../src/audit/signer.js';
import { verifyAuditChain, verifyAuditStore } from '../src/audit/verify.js';
import { AuditWriter } from '../src/audit/writer.js';
import { rootLogger } from '../src/logger.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { AuditRecord } from '../src/store/types.js';

const log = rootLogger.child({ logger: 'audit-node-test' }, { level: 'silent' });
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-audit-node-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A trail of 9 uploads: 3 by a process without a node (as every record before 0025), then 3 per node. */
async function trail(file: string) {
  const { privateKey } = generateKeyPairSync('ed25519');
  const key = parseAuditVerifyKey(ed25519PublicKeyLine(privateKey));
  const store = await openSqliteStore(file);
  const writer = new AuditWriter({
    repository: store.audit,
    log,
    checkpointEveryMs: 0,
    checkpointEveryRecords: 4,
    signer: ed25519AuditSigner(privateKey),
  });
  for (const node of [undefined, 'node-a', 'node-b']) {
    writer.useNode(node);
    for (let i = 0; i < 3; i++)
      await writer.append({ action: 'upload', user: 'bob', path: `/f${i}`, result: 'ok', detail: { i } });
  }
  await writer.close();
  const verify = () => verifyAuditStore(store.audit, { publicKeys: [key], checkpointInterval: 4 });
  return { store, key, verify };
}

const sql = (file: string, statement: string, ...params: unknown[]) => {
  const db = new SqliteDatabase(file);
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
};

test('records carry the node that wrote them; a chain mixing records without one verifies', async () => {
  const file = join(dir, 'mixed.db');
  const { store, key, verify } = await trail(file);
  try {
    const records = await store.audit.page({ limit: 100 });
    const uploads = records.filter((r) => r.action === 'upload');
    assert.deepEqual(
      uploads.map((r) => r.node ?? null),
      [null, null, null, 'node-a', 'node-a', 'node-a', 'node-b', 'node-b', 'node-b'],
    );
    // Checkpoints written by a node name it too.
    const checkpoints = records.filter((r) => r.action === 'checkpoint');
    assert.ok(
      checkpoints.some((r) => r.node === 'node-b'),
      JSON.stringify(checkpoints),
    );
    assert.equal((await verify()).ok, true);

    // A record without a node is hashed exactly as before nodes existed: SHA-256 of the canonical record
    // with no `node` member at all (the pre-0025 format, computed here without Ferry's chain code).
    const old = uploads[0]!;
    const { hash, ...rest } = old;
    const legacy = createHash('sha256')
      .update(canonicalJson({ ...rest, detail: JSON.parse(old.detail) }))
      .digest('hex');
    assert.equal(hash, legacy);
    assert.doesNotMatch(formatJsonLine(old), /"node"/);

    // Every view shows the node: the JSONL export, the CSV row's last column, the human line.
    const onA = uploads[3]!;
    assert.match(formatJsonLine(onA), /"node":"node-a"/);
    assert.match(formatCsvRow(onA), /,node-a$/);
    assert.match(formatRecordLine(onA), /\[node-a\]$/);

    // The export verifies offline, nodes included; an exported node edited by hand does not.
    const exported = join(dir, 'mixed.jsonl');
    await writeFile(exported, `${records.map(formatJsonLine).join('\n')}\n`);
    assert.equal(
      (await verifyAuditChain(readExportFile(exported), { publicKeys: [key], checkpointInterval: 4 })).ok,
      true,
    );
    await writeFile(
      exported,
      `${records.map(formatJsonLine).join('\n').replace('"node":"node-a"', '"node":"node-b"')}\n`,
    );
    const edited = await verifyAuditChain(readExportFile(exported), {
      publicKeys: [key],
      checkpointInterval: 4,
    });
    assert.equal(edited.ok, false);
    assert.equal(edited.broken?.seq, onA.seq);
  } finally {
    await store.close();
  }
});

test("an insider who adds, changes or removes a record's node breaks the chain at that record", async () => {
  const file = join(dir, 'tampered.db');
  const { store, verify } = await trail(file);
  try {
    const records: AuditRecord[] = await store.audit.page({ limit: 100 });
    const old = records.find((r) => r.action === 'upload' && r.node === undefined)!;
    const onA = records.find((r) => r.node === 'node-a' && r.action === 'upload')!;
    const cases: [string, string, unknown[], number][] = [
      [
        'moved to the other node',
        'UPDATE audit_log SET node = ? WHERE seq = ?',
        ['node-b', onA.seq],
        onA.seq,
      ],
      ['node removed', 'UPDATE audit_log SET node = NULL WHERE seq = ?', [onA.seq], onA.seq],
      [
        'an old record given a node',
        'UPDATE audit_log SET node = ? WHERE seq = ?',
        ['node-a', old.seq],
        old.seq,
      ],
      ['an empty node', "UPDATE audit_log SET node = '' WHERE seq = ?", [onA.seq], onA.seq],
    ];
    for (const [what, statement, params, seq] of cases) {
      sql(file, statement, ...params);
      const report = await verify();
      assert.equal(report.ok, false, what);
      assert.equal(report.broken?.seq, seq, what);
      assert.match(report.broken?.problem ?? '', /hash/, what);
      // Put back as written: the chain verifies again.
      sql(file, 'UPDATE audit_log SET node = ? WHERE seq = ?', old.seq === seq ? null : 'node-a', seq);
      assert.equal((await verify()).ok, true, `${what}: restored`);
    }
    assert.deepEqual(toExportRecord(onA).node, 'node-a');
  } finally {
    await store.close();
  }
});
