// The audit chain against someone who edits the stored trail: one byte of any column, re-hashed records, deleted,
// swapped or truncated ones, and a retention cut. Each is found at the record where it was made.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { computeHash } from '../src/audit/chain.js';
import { formatJsonLine } from '../src/audit/query.js';
import { ed25519AuditSigner, ed25519PublicKeyLine, parseAuditVerifyKey } from '../src/audit/signer.js';
import { verifyAuditStore } from '../src/audit/verify.js';
import { tamper, trailsInTempDir, writeTen } from './helpers/audit-trail.js';

const openTrail = trailsInTempDir();

for (const [column, change] of [
  ['path', "'/in/f3.bix'"],
  ['detail', "replace(detail, '300', '301')"],
  ['at', "replace(at, '2026', '2025')"],
  ['result', "'denied'"],
  ['prev_hash', "'0' || substr(prev_hash, 2)"],
  ['hash', "'f' || substr(hash, 2)"],
] as const) {
  test(`altering one byte of the stored ${column} of one record makes verify fail at exactly that record`, async () => {
    const t = await openTrail();
    try {
      await writeTen(t.writer);
      const target = (await t.store.audit.page({ limit: 100 })).find((r) => r.path === '/in/f3.bin')!;
      tamper(t.file, `UPDATE audit_log SET ${column} = ${change} WHERE seq = ?`, target.seq);
      const report = await verifyAuditStore(t.store.audit);
      assert.equal(report.ok, false);
      assert.equal(report.broken?.seq, target.seq, report.broken?.problem);
      assert.equal(report.records, target.seq - 1);
    } finally {
      await t.close();
    }
  });
}

test('whitespace added to a stored detail (same JSON meaning) is still caught', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    tamper(t.file, "UPDATE audit_log SET detail = replace(detail, ':', ': ') WHERE seq = 4");
    assert.deepEqual((await verifyAuditStore(t.store.audit)).broken, {
      seq: 4,
      problem: 'detail is not in canonical form',
    });
  } finally {
    await t.close();
  }
});

test('a record edited and re-hashed breaks the link of the record after it', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    const r = (await t.store.audit.page({ afterSeq: 4, limit: 1 }))[0]!;
    const forged = { ...JSON.parse(formatJsonLine(r)), path: '/in/innocent.bin' };
    tamper(t.file, 'UPDATE audit_log SET path = ?, hash = ? WHERE seq = 5', forged.path, computeHash(forged));
    const report = await verifyAuditStore(t.store.audit);
    assert.equal(report.broken?.seq, 6);
    assert.match(report.broken?.problem ?? '', /does not link to seq 5/);
  } finally {
    await t.close();
  }
});

test('deleting a middle record is reported at the missing seq', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    tamper(t.file, 'DELETE FROM audit_log WHERE seq = 6');
    const report = await verifyAuditStore(t.store.audit);
    assert.deepEqual(report.broken, { seq: 6, problem: 'record is missing (seq 5 is followed by seq 7)' });
  } finally {
    await t.close();
  }
});

test('swapping two records (contents or seq numbers) is detected at the first of them', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    // Renumber: 3 → -1, 4 → 3, -1 → 4: the rows now sit in each other's place in the order.
    tamper(t.file, 'UPDATE audit_log SET seq = -1 WHERE seq = 3');
    tamper(t.file, 'UPDATE audit_log SET seq = 3 WHERE seq = 4');
    tamper(t.file, 'UPDATE audit_log SET seq = 4 WHERE seq = -1');
    const report = await verifyAuditStore(t.store.audit);
    assert.equal(report.broken?.seq, 3, report.broken?.problem);
  } finally {
    await t.close();
  }
});

test('truncating the oldest records without a retention record is detected', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    tamper(t.file, 'DELETE FROM audit_log WHERE seq <= 2');
    const report = await verifyAuditStore(t.store.audit);
    assert.equal(report.broken?.seq, 3);
    assert.match(report.broken?.problem ?? '', /must start at seq 1/);
  } finally {
    await t.close();
  }
});

test('retention prune keeps the chain verifiable from the cut and still catches deletions past it', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const key = parseAuditVerifyKey(ed25519PublicKeyLine(privateKey));
  const t = await openTrail({ signer: ed25519AuditSigner(privateKey) });
  try {
    // Ten records a month old, then ten recent ones.
    await writeTen(t.writer, new Date(Date.now() - 30 * 86_400_000));
    await writeTen(t.writer, new Date(Date.now() - 3_600_000));
    const result = await t.writer.prune(7);
    assert.equal(result.deleted, 10);
    assert.equal(result.record?.action, 'prune');
    assert.equal(result.record?.seq, 21);
    // The cut is signed by the checkpoint written in the same transaction.
    assert.equal(result.checkpoint?.seq, 22);
    assert.deepEqual((await t.store.audit.page({ limit: 100 })).map((r) => r.seq)[0], 11);
    const report = await verifyAuditStore(t.store.audit, { publicKey: key });
    assert.equal(report.ok, true, report.broken?.problem);
    assert.deepEqual([report.anchor?.source, report.anchor?.seq, report.records], ['retention', 11, 12]);
    assert.equal((await t.writer.prune(7)).deleted, 0, 'nothing more to prune');
    await t.writer.append({ action: 'mkdir', path: '/new', result: 'ok' });
    assert.equal((await verifyAuditStore(t.store.audit, { publicKey: key })).ok, true);

    tamper(t.file, 'DELETE FROM audit_log WHERE seq = 11');
    const broken = await verifyAuditStore(t.store.audit, { publicKey: key });
    assert.equal(broken.broken?.seq, 12);
    assert.match(broken.broken?.problem ?? '', /retention record keeps seq 11/);
  } finally {
    await t.close();
  }
});
