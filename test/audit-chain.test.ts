// The audit chain as an auditor relies on it: stable hashes, tampering found at the right record, retention, exports, signatures.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { canonicalJson, computeHash, GENESIS_HASH } from '../src/audit/chain.js';
import { readExportFile } from '../src/audit/export-file.js';
import { formatJsonLine, globToRegExp, iterateAudit } from '../src/audit/query.js';
import {
  checkpointMessage,
  ed25519AuditSigner,
  ed25519PublicKeyLine,
  hostKeyAuditSigner,
  parseAuditVerifyKey,
} from '../src/audit/signer.js';
import { verifyAuditChain, verifyAuditStore } from '../src/audit/verify.js';
import { tamper, trailsInTempDir, writeTen } from './helpers/audit-trail.js';

const openTrail = trailsInTempDir();

test('canonical serialization sorts keys at every depth, has no whitespace and ignores insertion order', () => {
  const a = canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, u: undefined });
  const b = canonicalJson({ a: { c: 'x', d: [3, { y: null, z: true }] }, b: 1 });
  assert.equal(a, '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  assert.equal(a, b);
  assert.equal(canonicalJson({ é: 'ü\n"', '1': 0.5 }), '{"1":0.5,"é":"ü\\n\\""}');
  assert.throws(() => canonicalJson({ x: Number.NaN }), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => canonicalJson({ x: 1n }), { code: 'ERR_INVALID_ARGUMENT' });
});

test('a record hash is SHA-256 over sorted-key JSON and matches an independent implementation', () => {
  // Expected value computed with Python: json.dumps(record, sort_keys=True, separators=(',', ':'), ensure_ascii=False).
  const record = {
    seq: 7,
    at: '2026-03-01T12:00:00.000Z',
    action: 'upload',
    user: 'bob',
    sessionId: 'a1b2c3',
    address: '10.0.0.5',
    protocol: 'sftp',
    path: '/in/report é.csv',
    target: null,
    result: 'ok',
    reason: null,
    detail: { sha256: 'ab'.repeat(32), bytes: 1048576, durationMs: 12, resumedFrom: 0 },
    prevHash: 'cd'.repeat(32),
  };
  assert.equal(computeHash(record), '106c084893b54adf82a11b7737ff76fe3c3bfac0dfc1cdebb73a877cfffeca44');
  assert.equal(computeHash({ ...record, hash: 'ignored' }), computeHash(record));
  assert.notEqual(computeHash({ ...record, seq: 8 }), computeHash(record));
});

test('records written concurrently form one chain from genesis that verifies', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    const records = await t.store.audit.page({ limit: 100 });
    assert.deepEqual(
      records.map((r) => r.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(records[0]?.prevHash, GENESIS_HASH);
    for (let i = 1; i < records.length; i++) assert.equal(records[i]?.prevHash, records[i - 1]?.hash);
    const admin = records.find((r) => r.action === 'admin');
    assert.equal(admin?.user, 'root');
    assert.equal(admin?.target, 'carol');
    assert.equal(admin?.protocol, 'cli');
    const report = await verifyAuditStore(t.store.audit);
    assert.equal(report.ok, true, report.broken?.problem);
    assert.equal(report.records, 10);
    assert.equal(report.headHash, records[9]?.hash);
    assert.equal(report.anchor?.source, 'genesis');
  } finally {
    await t.close();
  }
});

test('by default a lone record commits without waiting for a timer: one client uploading files in turn never waits for company', async (t) => {
  const trail = await openTrail();
  try {
    // With setTimeout frozen, a batching delay would never expire: the append must not depend on one.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const record = await trail.writer.append({ action: 'upload', path: '/lone', result: 'ok' });
    assert.equal(record.seq, 1);
  } finally {
    t.mock.timers.reset();
    await trail.close();
  }
});

test('append resolves only once the record is committed and readable by another connection', async () => {
  const t = await openTrail({ flushDelayMs: 30 });
  try {
    const pending = t.writer.append({ action: 'upload', path: '/x', result: 'ok' });
    const other = new SqliteDatabase(t.file, { readonly: true });
    try {
      const count = () => (other.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
      assert.equal(count(), 0, 'batched: not yet written');
      const record = await pending;
      assert.equal(count(), 1);
      assert.equal(record.seq, 1);
    } finally {
      other.close();
    }
  } finally {
    await t.close();
  }
});

test('flushing an idle writer does not hold back the records that come later', async () => {
  const t = await openTrail();
  try {
    await t.writer.flush();
    await t.writer.flush();
    const record = await Promise.race([
      t.writer.append({ action: 'disconnect', result: 'ok' }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('append never committed')), 2000).unref()),
    ]);
    assert.equal((record as { seq: number }).seq, 1);
  } finally {
    await t.close();
  }
});

test('an export verifies offline; an edited, dropped or reordered line does not', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const key = parseAuditVerifyKey(ed25519PublicKeyLine(privateKey));
  const t = await openTrail({ signer: ed25519AuditSigner(privateKey), checkpointEveryRecords: 0 });
  try {
    await writeTen(t.writer);
    await t.writer.checkpoint();
    const lines: string[] = [];
    for await (const r of iterateAudit(t.store.audit, { afterSeq: 3 })) lines.push(formatJsonLine(r));
    const file = `${t.file}.export.jsonl`;
    await writeFile(file, `${lines.join('\n')}\n`);
    const ok = await verifyAuditChain(readExportFile(file), { publicKey: key });
    assert.equal(ok.ok, true, ok.broken?.problem);
    assert.deepEqual(
      [ok.firstSeq, ok.lastSeq, ok.records, ok.anchor?.source, ok.checkpoints],
      [4, 11, 8, 'first-record', 1],
    );

    const edited = lines.map((l, i) => (i === 2 ? l.replace('"bytes":500', '"bytes":5000') : l));
    await writeFile(file, `${edited.join('\n')}\n`);
    assert.equal((await verifyAuditChain(readExportFile(file))).broken?.seq, 6);

    await writeFile(file, `${lines.filter((_, i) => i !== 3).join('\n')}\n`);
    assert.equal((await verifyAuditChain(readExportFile(file))).broken?.seq, 7);

    const swapped = [...lines];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    await writeFile(file, `${swapped.join('\n')}\n`);
    assert.equal((await verifyAuditChain(readExportFile(file))).broken?.seq, 5);

    await writeFile(file, `${lines[0]}\nnot json\n`);
    assert.deepEqual((await verifyAuditChain(readExportFile(file))).broken, {
      seq: 5,
      problem: 'line 2: not JSON',
    });
  } finally {
    await t.close();
  }
});

test('checkpoints attest the head; signatures verify with the public key, and forged or foreign ones fail', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const signer = ed25519AuditSigner(privateKey);
  const key = parseAuditVerifyKey(ed25519PublicKeyLine(privateKey));
  assert.equal(key.fingerprint, signer.publicKeySha256);
  const t = await openTrail({ signer, checkpointEveryRecords: 4 });
  try {
    await writeTen(t.writer);
    await t.writer.flush();
    // The count-triggered checkpoint is queued after its batch commits.
    await new Promise((r) => setTimeout(r, 30));
    await t.writer.flush();
    const checkpoints = await t.store.audit.page({ actions: ['checkpoint'], limit: 10 });
    assert.ok(checkpoints.length >= 1);
    const cp = checkpoints[0]!;
    const detail = JSON.parse(cp.detail);
    assert.equal(detail.headSeq, cp.seq - 1);
    assert.equal(detail.headHash, cp.prevHash);
    assert.equal(detail.publicKeySha256, signer.publicKeySha256);

    const verified = await verifyAuditStore(t.store.audit, { publicKey: key });
    assert.equal(verified.ok, true, verified.broken?.problem);
    assert.equal(verified.verifiedSignatures, checkpoints.length);
    // Signatures are always checked: with no key to check them against, the first checkpoint fails.
    const unchecked = await verifyAuditStore(t.store.audit);
    assert.equal(unchecked.broken?.seq, cp.seq);
    assert.match(unchecked.broken?.problem ?? '', /no public key was given or stored/);

    const other = parseAuditVerifyKey(ed25519PublicKeyLine(generateKeyPairSync('ed25519').privateKey));
    const foreign = await verifyAuditStore(t.store.audit, { publicKey: other });
    assert.equal(foreign.broken?.seq, cp.seq);
    assert.match(foreign.broken?.problem ?? '', /signed by key/);

    // A forger without the private key re-signs with their own key but keeps the claimed fingerprint,
    // and re-hashes the record so the chain itself still looks intact.
    const forger = generateKeyPairSync('ed25519').privateKey;
    const forged = {
      ...detail,
      signature: ed25519AuditSigner(forger).sign(Buffer.from('x')).toString('base64'),
    };
    const exported = { ...JSON.parse(formatJsonLine(cp)), detail: forged };
    tamper(
      t.file,
      'UPDATE audit_log SET detail = ?, hash = ? WHERE seq = ?',
      canonicalJson(forged),
      computeHash(exported),
      cp.seq,
    );
    const report = await verifyAuditChain(iterateAudit(t.store.audit, { throughSeq: cp.seq }), {
      publicKey: key,
    });
    assert.deepEqual(report.broken, { seq: cp.seq, problem: 'checkpoint signature does not verify' });
  } finally {
    await t.close();
  }
});

test('a host key that signs SSH signature blobs (as the key manager does) signs checkpoints that verify', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const wire = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const key = parseAuditVerifyKey(ed25519PublicKeyLine(privateKey));
  const signer = hostKeyAuditSigner({
    algorithm: 'ssh-ed25519',
    sha256: key.fingerprint,
    sign: (data) => Buffer.concat([wire(Buffer.from('ssh-ed25519')), wire(sign(null, data, privateKey))]),
  });
  const message = checkpointMessage({
    seq: 2,
    at: '2026-01-01T00:00:00.000Z',
    headSeq: 1,
    headHash: GENESIS_HASH,
  });
  assert.equal(key.verify(message, signer.sign(message)), true);
  assert.throws(
    () => hostKeyAuditSigner({ algorithm: 'ssh-rsa', sha256: 'x', sign: () => Buffer.alloc(0) }),
    {
      code: 'ERR_INVALID_ARGUMENT',
    },
  );
});

test('closing a writer with a signer leaves a signed checkpoint at the head', async () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const t = await openTrail({ signer: ed25519AuditSigner(privateKey), checkpointEveryRecords: 0 });
  await writeTen(t.writer);
  await t.writer.close();
  const [last] = await t.store.audit.tail(1);
  assert.equal(last?.action, 'checkpoint');
  assert.equal(last?.seq, 11);
  await assert.rejects(t.writer.append({ action: 'mkdir', result: 'ok' }), { code: 'ERR_IO' });
  const report = await verifyAuditStore(t.store.audit, {
    publicKey: parseAuditVerifyKey(ed25519PublicKeyLine(privateKey)),
  });
  assert.equal(report.verifiedSignatures, 1);
  await t.store.close();
});

test('path patterns: * and ? stay in one component, ** crosses them', () => {
  assert.equal(globToRegExp('/in/*').test('/in/a.csv'), true);
  assert.equal(globToRegExp('/in/*').test('/in/sub/a.csv'), false);
  assert.equal(globToRegExp('/in/**').test('/in/sub/a.csv'), true);
  assert.equal(globToRegExp('/in/?.csv').test('/in/a.csv'), true);
  assert.equal(globToRegExp('/in/[ab].csv').test('/in/c.csv'), false);
  assert.equal(globToRegExp('/a.b').test('/axb'), false);
});

test('the export file is the same data as the store', async () => {
  const t = await openTrail();
  try {
    await writeTen(t.writer);
    const file = `${t.file}.same.jsonl`;
    const lines: string[] = [];
    for await (const r of iterateAudit(t.store.audit, {})) lines.push(formatJsonLine(r));
    await writeFile(file, lines.join('\n'));
    const back: unknown[] = [];
    for await (const r of readExportFile(file)) back.push(r);
    assert.deepEqual(back, await t.store.audit.page({ limit: 100 }));
    assert.ok((await readFile(file, 'utf8')).includes('"sha256":"abab'));
  } finally {
    await t.close();
  }
});
