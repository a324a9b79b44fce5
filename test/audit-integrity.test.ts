// An insider with full store access tries to rewrite the audit history; each attempt must fail `verify`.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readAnchorLog } from '../src/audit/anchors.js';
import { canonicalJson } from '../src/audit/chain.js';
import { iterateAudit } from '../src/audit/query.js';
import { type AuditSigner, hostKeyAuditSigner, publicKeyLineFromBlob } from '../src/audit/signer.js';
import { verifyAuditChain, verifyAuditStore } from '../src/audit/verify.js';
import { AuditWriter } from '../src/audit/writer.js';
import { loadConfig } from '../src/config/load.js';
import { AppContext } from '../src/context.js';
import { rootLogger } from '../src/logger.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import {
  forgePrune,
  type HostKey,
  hostKey,
  INTERVAL,
  openTrail as openTrailIn,
  type Row,
  rewrite,
  rows,
  sql,
  uploads,
} from './helpers/audit-integrity-lab.js';
import { runFerry } from './helpers/cli.js';

const log = rootLogger.child({ logger: 'audit-test' }, { level: 'silent' });
const DAY_MS = 86_400_000;
/** Fingerprints and paths hold `+`, `/` and `.`: match them literally. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-audit-integrity-'));
});
after(() => rm(dir, { recursive: true, force: true }));
const openTrail = (key: HostKey) => openTrailIn(dir, key);

// ---- the honest chain ----

test('an honest chain with a host key rotation and a retention cut verifies, naming the key of each checkpoint', async () => {
  const [oldKey, newKey] = [hostKey(), hostKey()];
  const t = await openTrail(oldKey);
  try {
    await uploads(t.writer, 12, new Date(Date.now() - 40 * DAY_MS)); // will be pruned
    await uploads(t.writer, 12, new Date(Date.now() - 3_600_000));
    t.writer.useSigner(newKey.signer); // the host key is rotated; the old one is retired
    await uploads(t.writer, 12, new Date(Date.now() - 1_800_000));
    const pruned = await t.writer.prune(30);
    assert.equal(pruned.deleted, 14, 'twelve old uploads and the two checkpoints between them');
    await uploads(t.writer, 3);
    await t.writer.close();

    const bothKeys = [oldKey.verifyKey, newKey.verifyKey];
    const report = await t.verify({ publicKeys: bothKeys, anchors: t.anchors });
    assert.equal(report.ok, true, report.broken?.problem);
    assert.deepEqual([report.anchor?.source, report.anchor?.seq], ['retention', 15]);
    assert.equal(report.signedCheckpoints, report.checkpoints);
    assert.deepEqual(
      report.signers.map((s) => [s.fingerprint, s.checkpoints > 0]),
      [
        [oldKey.verifyKey.fingerprint, true],
        [newKey.verifyKey.fingerprint, true],
      ],
    );
    const [oldSigned, newSigned] = report.signers;
    assert.ok(oldSigned!.lastSeq < newSigned!.firstSeq, 'the old key signed before the new one');
    assert.ok(report.anchorsChecked > 0, 'the anchor log was compared with the chain');

    // After the rotation, the new key alone cannot vouch for the old key's checkpoints.
    const newOnly = await t.verify({ publicKeys: [newKey.verifyKey] });
    assert.equal(newOnly.broken?.seq, oldSigned!.firstSeq);
    assert.match(
      newOnly.broken?.problem ?? '',
      new RegExp(`signed by key ${literal(oldKey.verifyKey.fingerprint)}, not by any trusted key`),
    );
  } finally {
    await t.store.close();
  }
});

test('a process without a signer of its own (a CLI command) signs due checkpoints with the host key it loads', async () => {
  const key = hostKey();
  const store = await openSqliteStore(join(dir, 'cli-signer.db'));
  const writer = (loadSigner: () => Promise<AuditSigner | undefined>) =>
    new AuditWriter({
      repository: store.audit,
      log,
      checkpointEveryMs: 0,
      checkpointEveryRecords: INTERVAL,
      loadSigner,
    });
  const verify = () =>
    verifyAuditStore(store.audit, { publicKeys: [key.verifyKey], checkpointInterval: INTERVAL });
  try {
    // Without a host key, records are written but no checkpoint: verify reports the gap.
    const unkeyed = writer(async () => undefined);
    await uploads(unkeyed, INTERVAL + 1);
    await unkeyed.close();
    assert.match((await verify()).broken?.problem ?? '', /no signed checkpoint within 5 records/);

    // Once there is one, the next process signs a checkpoint before adding its own record.
    let loads = 0;
    const keyed = writer(async () => {
      loads++;
      return key.signer;
    });
    await uploads(keyed, 2 * INTERVAL + 2);
    await keyed.close();
    assert.equal(loads, 1);
    const rows = await store.audit.page({ limit: 100 });
    assert.equal(rows[INTERVAL + 1]?.action, 'checkpoint', 'the checkpoint comes first');
    const report = await verify();
    assert.equal(report.broken?.seq, INTERVAL + 1, 'the unkeyed stretch stays reported');
    const fromThere = await verifyAuditChain(iterateAudit(store.audit, { afterSeq: INTERVAL + 1 }), {
      publicKeys: [key.verifyKey],
      checkpointInterval: INTERVAL,
    });
    assert.equal(fromThere.ok, true, fromThere.broken?.problem);
    assert.equal(fromThere.checkpoints, 4, 'seq 7, 13, 19 and the closing one');
  } finally {
    await store.close();
  }
});

// ---- attack 1: delete the oldest records and cover the gap with a forged retention record ----

test('deleting the oldest records behind a forged retention record fails, even once the server signs over it', async () => {
  const key = hostKey();
  const t = await openTrail(key);
  try {
    await uploads(t.writer, 20);
    assert.equal((await t.verify()).ok, true);
    const seven = rows(t.file)[6]!;
    sql(t.file, 'DELETE FROM audit_log WHERE seq <= 7');
    const forged = forgePrune(t.file, 8, seven.hash);

    const report = await t.verify();
    assert.equal(report.ok, false);
    assert.equal(report.broken?.seq, forged);
    assert.match(report.broken?.problem ?? '', /not followed by a signed retention checkpoint for that cut/);

    // The running server signs the head as usual: a routine checkpoint does not sign a cut.
    await t.writer.checkpoint();
    await uploads(t.writer, 2);
    const later = await t.verify();
    assert.equal(later.broken?.seq, forged);
    assert.match(later.broken?.problem ?? '', /retention record \(cut before seq 8\) is not followed/);

    // A retention checkpoint of the insider's own making carries the insider's key.
    const insider = hostKey();
    rewrite(t.file, (all) => {
      const pruneIndex = all.findIndex((r) => r.seq === forged);
      const fake: Row = {
        ...all[pruneIndex]!,
        at: new Date().toISOString(),
        action: 'checkpoint',
        username: null,
        // headSeq and headHash are set by rewrite(); the cut claims what the forged record claims.
        detail: canonicalJson({
          cut: { firstKeptSeq: 8, prevHash: seven.hash },
          algorithm: 'ssh-ed25519',
          publicKeySha256: insider.signer.publicKeySha256,
          signature: insider.signer.sign(Buffer.from('anything')).toString('base64'),
        }),
      };
      return [...all.slice(0, pruneIndex + 1), fake, ...all.slice(pruneIndex + 1)];
    });
    const own = await t.verify();
    assert.equal(own.broken?.seq, forged + 1);
    assert.match(own.broken?.problem ?? '', /signed by key .* not by any trusted key/);
  } finally {
    await t.close();
  }
});

// ---- attack 2: delete in the middle, re-hash the rest, do away with the checkpoint signatures ----

test('deleting middle records and re-hashing the rest fails whether the checkpoints are dropped or stripped', async () => {
  const key = hostKey();
  const t = await openTrail(key);
  try {
    await uploads(t.writer, 20);
    const clean = rows(t.file);
    const deleteMiddle = (all: Row[]) => all.filter((r) => r.seq !== 9 && r.seq !== 10);

    // Re-hashed with the checkpoints after the deletion kept: their signatures no longer verify.
    rewrite(t.file, deleteMiddle);
    let report = await t.verify();
    assert.match(report.broken?.problem ?? '', /checkpoint signature does not verify/);

    // Signatures stripped: an unsigned checkpoint is refused.
    rewrite(t.file, (all) =>
      all.map((r) => {
        if (r.action !== 'checkpoint' || r.seq < 9) return r;
        const { signature: _s, publicKeySha256: _k, algorithm: _a, ...unsigned } = JSON.parse(r.detail);
        return { ...r, detail: canonicalJson(unsigned) };
      }),
    );
    report = await t.verify();
    assert.match(report.broken?.problem ?? '', /checkpoint is not signed \(every checkpoint must be\)/);

    // Checkpoints after the deletion removed: the interval shows they are missing.
    rewrite(t.file, (all) => all.filter((r) => r.action !== 'checkpoint' || r.seq < 9));
    report = await t.verify();
    assert.equal(report.ok, false);
    assert.match(
      report.broken?.problem ?? '',
      /no signed checkpoint within 5 records after the checkpoint at seq 6/,
    );

    // Every checkpoint removed is not "a chain without checkpoints" either.
    rewrite(t.file, (all) => all.filter((r) => r.action !== 'checkpoint'));
    report = await t.verify();
    assert.equal(report.broken?.seq, INTERVAL + 1);
    assert.match(report.broken?.problem ?? '', /no signed checkpoint within 5 records after seq 1/);
    assert.equal((await t.verify({ checkpointInterval: 0 })).ok, true, 'only the interval catches this one');

    // The honest chain, put back, verifies again.
    rewrite(t.file, () => clean);
    assert.equal((await t.verify()).ok, true);
  } finally {
    await t.close();
  }
});

// ---- attack 3: truncate the newest records ----

test('truncating the newest records fails against the anchor log; a rewritten chain disagrees with it', async () => {
  const key = hostKey();
  const t = await openTrail(key);
  try {
    await uploads(t.writer, 20);
    await t.writer.close();
    const anchors = await readAnchorLog(t.anchors);
    const newest = anchors.at(-1)!;
    assert.equal(newest.seq, rows(t.file).at(-1)!.seq, 'the closing checkpoint is anchored');
    assert.deepEqual(
      anchors.map((a) => a.publicKeySha256),
      anchors.map(() => key.verifyKey.fingerprint),
    );

    sql(t.file, 'DELETE FROM audit_log WHERE seq > 12');
    assert.equal((await t.verify()).ok, true, 'without the anchor log, a cut at a checkpoint looks whole');
    const report = await t.verify({ anchors: t.anchors });
    assert.equal(report.broken?.seq, 13);
    assert.match(
      report.broken?.problem ?? '',
      new RegExp(`chain ends at seq 12, but the anchor log holds a signed checkpoint at seq ${newest.seq}`),
    );

    // An anchor line edited (to match a rewritten chain, or to cry truncation) no longer verifies.
    const edited = join(dir, 'edited-anchors.log');
    const lines = (await readFile(t.anchors, 'utf8')).trim().split('\n');
    const last = JSON.parse(lines.at(-1)!);
    lines[lines.length - 1] = JSON.stringify({ ...last, headHash: 'f'.repeat(64) });
    await writeFile(edited, `${lines.join('\n')}\n`);
    const forgedAnchor = await t.verify({ anchors: edited });
    assert.match(
      forgedAnchor.broken?.problem ?? '',
      new RegExp(`anchor log entry for seq ${last.seq}: checkpoint signature does not verify`),
    );
    // Padding the chain back to its old length with invented records does not match the anchors.
    rewrite(t.file, (all) => [
      ...all,
      ...Array.from({ length: newest.seq - 12 }, (_, i) => ({
        ...all[1]!,
        action: 'mkdir',
        path: `/pad${i}`,
        detail: '{}',
      })),
    ]);
    const padded = await t.verify({ anchors: t.anchors, checkpointInterval: 0 });
    assert.equal(padded.ok, false);
    assert.match(padded.broken?.problem ?? '', /differs from the anchor log/);
  } finally {
    await t.store.close();
  }
});

// ---- the CLI, against a data dir with real host keys ----

function ferry(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', dataDir]);
}

test('ferry audit verify after a host key rotation: every stored key, several --public-key, the export, the anchor log', async () => {
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, { mode: 0o700 });
  const ctx = await AppContext.create(loadConfig({ flags: { dataDir } }), 'create');
  const signWith = async (id: number) => {
    const material = (await ctx.hostKeys.activeMaterial()).find((k) => k.id === id)!;
    ctx.audit.useSigner(hostKeyAuditSigner(material));
  };
  let oldId: number;
  let newId: number;
  try {
    oldId = (await ctx.hostKeys.generate('ed25519')).id;
    await signWith(oldId);
    await uploads(ctx.audit, 4);
    await ctx.audit.checkpoint();
    newId = (await ctx.hostKeys.generate('ed25519')).id;
    // A new key is pending until promoted; the old one can be retired only once another is active.
    await ctx.hostKeys.promote(newId);
    await ctx.hostKeys.retire(oldId);
    await signWith(newId);
    await uploads(ctx.audit, 4);
  } finally {
    await ctx.dispose(); // closes with a checkpoint signed by the new key
  }
  const keys = await (async () => {
    const store = await openSqliteStore(join(dataDir, 'ferry.db'));
    try {
      return await store.hostKeys.list();
    } finally {
      await store.close();
    }
  })();
  const [oldKey, newKey] = [keys.find((k) => k.id === oldId)!, keys.find((k) => k.id === newId)!];
  const oldPub = join(dir, 'old.pub');
  const newPub = join(dir, 'new.pub');
  const bothPub = join(dir, 'both.pub');
  await writeFile(oldPub, `${publicKeyLineFromBlob(oldKey.publicBlob)} old\n`);
  await writeFile(newPub, `${publicKeyLineFromBlob(newKey.publicBlob)} new\n`);
  await writeFile(bothPub, `${await readFile(oldPub, 'utf8')}${await readFile(newPub, 'utf8')}`);

  // Default: the store's host keys, the retired one included, and the anchor log beside the store.
  let r = await ferry(dataDir, ['audit', 'verify']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    new RegExp(`signed by ${literal(oldKey.sha256)} \\(host key ${oldId}, retired [^)]+\\): 1 checkpoint`),
  );
  assert.match(
    r.stdout,
    new RegExp(`signed by ${literal(newKey.sha256)} \\(host key ${newId}\\): 1 checkpoint`),
  );
  assert.match(r.stdout, /anchor log .*audit-anchors\.log: 2 anchor\(s\) match the chain/);

  r = await ferry(dataDir, ['audit', 'verify', '--public-key', newPub]);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    new RegExp(`^audit trail BROKEN at seq 5: checkpoint was signed by key ${literal(oldKey.sha256)}`, 'm'),
  );
  r = await ferry(dataDir, ['audit', 'verify', '--public-key', oldPub, '--public-key', newPub]);
  assert.equal(r.code, 0, r.stdout);
  r = await ferry(dataDir, ['audit', 'verify', '--public-key', bothPub]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, new RegExp(`signed by ${literal(oldKey.sha256)} \\(${literal(bothPub)}\\)`));

  // The export carries both public halves, so it verifies offline after the rotation.
  const exported = join(dir, 'export.jsonl');
  r = await ferry(dataDir, ['audit', 'export', '--format', 'jsonl', '--output', exported]);
  assert.equal(r.code, 0, r.stderr);
  const head = (await readFile(exported, 'utf8'))
    .split('\n')
    .slice(0, 2)
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    head.map((k) => [k.sha256, k.active]),
    [
      [oldKey.sha256, false],
      [newKey.sha256, true],
    ],
  );
  r = await ferry(dataDir, ['audit', 'verify', '--file', exported]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /verified with the export's host key lines/);

  // The insider truncates the store and the anchor log beside it; a copy kept elsewhere still tells.
  const copy = join(dir, 'anchors-copy.log');
  await copyFile(join(dataDir, 'audit-anchors.log'), copy);
  sql(join(dataDir, 'ferry.db'), 'DELETE FROM audit_log WHERE seq > 5');
  r = await ferry(dataDir, ['audit', 'verify']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /^audit trail BROKEN at seq 6: the chain ends at seq 5, but the anchor log holds a signed checkpoint at seq 10/m,
  );
  await writeFile(join(dataDir, 'audit-anchors.log'), `${(await readFile(copy, 'utf8')).split('\n')[0]}\n`);
  r = await ferry(dataDir, ['audit', 'verify']);
  assert.equal(r.code, 0, 'with its anchor log truncated as well, the data dir alone cannot tell');
  r = await ferry(dataDir, ['audit', 'verify', '--anchors', copy]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /BROKEN at seq 6: the chain ends at seq 5/);
});
