// The audit chain's head on SQLite: a connection reuses the head it wrote last only while no other connection has
// committed (PRAGMA data_version); any other writer (a second worker, a CLI command) makes it read the head again.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertLinearChain, linkedRecord } from '../audit-chain-fixture.js';
import { runChildrenTogether } from '../postgres/child-fixture.js';
import type { AuditChainHead, AuditRecord, Store } from '../types.js';
import { openSqliteStore } from './sqlite-store.js';

/** One record after `head`, linked to it as audit/chain.ts links them. */
const next = (head: AuditChainHead | undefined, who: string, action?: AuditRecord['action']) =>
  linkedRecord(head, who, who, action);

async function twoConnections(t: { after(fn: () => Promise<void>): void }): Promise<[Store, Store, string]> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-audit-head-'));
  const file = join(dir, 'ferry.db');
  const a = await openSqliteStore(file);
  const b = await openSqliteStore(file);
  t.after(async () => {
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  });
  return [a, b, file];
}

test('an append after another connection committed builds on that connection’s records', async (t) => {
  const [a, b] = await twoConnections(t);
  const seen: (AuditChainHead | undefined)[] = [];
  const append = (store: Store, who: string, action?: AuditRecord['action']) =>
    store.audit.append((head) => {
      seen.push(head);
      return [next(head, who, action)];
    });
  await append(a, 'a1');
  await append(a, 'a2', 'checkpoint');
  await append(a, 'a3');
  await append(b, 'b1');
  // `a` wrote seq 3 last; its next record must follow b's seq 4, not its own.
  await append(a, 'a4');
  await append(a, 'a5');
  assert.deepEqual(
    seen.map((h) => h && [h.seq, h.lastCheckpointSeq]),
    [undefined, [1, undefined], [2, 2], [3, 2], [4, 2], [5, 2]],
  );
  assertLinearChain(await a.audit.page({ limit: 100 }));
});

test('a prune and a failed append leave the next append reading the head', async (t) => {
  const [a] = await twoConnections(t);
  await a.audit.append((head) => [next(head, 'old')]);
  await a.audit.append((head) => [next(head, 'cp', 'checkpoint')]);
  await assert.rejects(
    a.audit.append((head) => {
      // A record that cannot be stored (its seq is taken): the transaction rolls back.
      return [{ ...next(head, 'bad'), seq: 1 }];
    }),
  );
  let after: AuditChainHead | undefined;
  await a.audit.append((head) => {
    after = head;
    return [next(head, 'good')];
  });
  assert.deepEqual(after && [after.seq, after.lastCheckpointSeq], [2, 2]);
  const everything = new Date(Date.now() + 60_000).toISOString();
  const pruned = await a.audit.prune(everything, (cut, head) => [
    { ...next(head, 'prune', 'prune'), detail: `cut ${cut.firstKeptSeq}` },
  ]);
  assert.equal(pruned?.cut.deleted, 3);
  let afterPrune: AuditChainHead | undefined;
  await a.audit.append((head) => {
    afterPrune = head;
    return [next(head, 'later')];
  });
  // The checkpoint went with the prune: the head read again says so.
  assert.deepEqual(afterPrune && [afterPrune.seq, afterPrune.lastCheckpointSeq], [4, undefined]);
});

test('an append queued beside a prune never reuses a head the prune moved', async (t) => {
  const [a] = await twoConnections(t);
  await a.audit.append((head) => [next(head, 'cp', 'checkpoint')]);
  const everything = () => new Date(Date.now() + 60_000).toISOString();
  for (let round = 0; round < 5; round++) {
    // Called together: the append commits first, then the prune deletes and adds its cut record.
    await Promise.all([
      a.audit.append((head) => [next(head, `before-${round}`)]),
      a.audit.prune(everything(), (cut, head) => [
        { ...next(head, `prune-${round}`, 'prune'), detail: `${cut.deleted}` },
      ]),
    ]);
    const after = await a.audit.append((head) => [next(head, `after-${round}`)]);
    assert.equal(
      after[0]?.prevHash,
      (await a.audit.tail(2))[0]?.hash,
      'the append follows the prune’s record',
    );
  }
});

test('two processes appending audit records to one SQLite file at once make one linear chain', async (t) => {
  const [a, , file] = await twoConnections(t);
  // Enough appends that the two processes' runs overlap (each commit moves the other's data_version).
  const appends = 400;
  // Each goes on past its appends until the other's came between two of its own (bounded), and says what it wrote.
  const reports = (await runChildrenTogether(
    t,
    new URL('../audit-child-fixture.ts', import.meta.url).pathname,
    [
      [file, 'one', String(appends)],
      [file, 'two', String(appends)],
    ],
  )) as { written: number }[];
  const records = await a.audit.page({ limit: 100_000 });
  assert.equal(records.length, reports[0]!.written + reports[1]!.written);
  const users = records.map((r) => r.user);
  const switches = users.filter((u, i) => i > 0 && u !== users[i - 1]).length;
  assert.ok(switches >= 2, `the processes' appends interleaved (${switches} switches)`);
  assertLinearChain(records);
  assert.deepEqual(new Set(records.map((r) => r.user)), new Set(['one', 'two']));
});
