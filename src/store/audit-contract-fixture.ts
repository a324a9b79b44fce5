// The contract of the audit trail's storage every store driver passes (runStoreContract runs it): appends on the chain head, paging, pruning.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type MakeStore, storeRunner } from './contract-support.js';
import type { AuditAction, AuditChainHead, AuditRecord } from './types.js';

export function runAuditStoreContract(name: string, makeStore: MakeStore): void {
  const withStore = storeRunner(makeStore);

  // The store does not hash (audit/ does): these records only need distinct, linked-looking values.
  const chained =
    (entries: { at: string; action: AuditAction; user?: string }[]) =>
    (head: { seq: number; hash: string } | undefined): AuditRecord[] => {
      let seq = head?.seq ?? 0;
      let prev = head?.hash ?? 'genesis';
      return entries.map((e) => {
        seq++;
        const record: AuditRecord = {
          seq,
          at: e.at,
          action: e.action,
          user: e.user ?? null,
          sessionId: null,
          address: null,
          protocol: null,
          path: `/f${seq}`,
          target: null,
          result: 'ok',
          reason: null,
          detail: '{}',
          prevHash: prev,
          hash: `h${seq}`,
        };
        prev = record.hash;
        return record;
      });
    };

  test(`${name}: audit appends continue the chain from the head read in the same transaction`, () =>
    withStore(async (store) => {
      const first = await store.audit.append(
        chained([
          { at: '2026-01-01T00:00:00.000Z', action: 'connect' },
          { at: '2026-01-02T00:00:00.000Z', action: 'upload', user: 'bob' },
        ]),
      );
      assert.deepEqual(
        first.map((r) => [r.seq, r.prevHash]),
        [
          [1, 'genesis'],
          [2, 'h1'],
        ],
      );
      const heads: unknown[] = [];
      await Promise.all([
        store.audit.append((head) => {
          heads.push(head);
          return chained([{ at: '2026-01-03T00:00:00.000Z', action: 'download', user: 'bob' }])(head);
        }),
        store.audit.append((head) => {
          heads.push(head);
          return chained([{ at: '2026-01-04T00:00:00.000Z', action: 'admin', user: 'root' }])(head);
        }),
      ]);
      assert.deepEqual(heads, [
        { seq: 2, hash: 'h2' },
        { seq: 3, hash: 'h3' },
      ]);
      const all = await store.audit.page({ limit: 100 });
      assert.deepEqual(
        all.map((r) => [r.seq, r.prevHash, r.path]),
        [
          [1, 'genesis', '/f1'],
          [2, 'h1', '/f2'],
          [3, 'h2', '/f3'],
          [4, 'h3', '/f4'],
        ],
      );
      assert.equal(all[1]?.user, 'bob');
      assert.equal(all[1]?.detail, '{}');
    }));

  test(`${name}: audit appends of any size keep every field in its column, batch after batch of the same size`, () =>
    withStore(async (store) => {
      // Each field distinct per record, so a column bound to another's value shows; sizes repeat (INSERT texts
      // are reused per row count) and cross the 64-row chunk.
      const full = (head: AuditChainHead | undefined, count: number, action: AuditAction): AuditRecord[] => {
        let seq = head?.seq ?? 0;
        let prev = head?.hash ?? 'genesis';
        return Array.from({ length: count }, () => {
          seq++;
          const record: AuditRecord = {
            seq,
            at: `2026-02-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
            action,
            user: `user${seq}`,
            sessionId: `session${seq}`,
            address: `10.0.0.${seq % 250}`,
            protocol: 'ssh',
            path: `/path${seq}`,
            target: `/target${seq}`,
            result: seq % 2 === 0 ? 'ok' : 'failed',
            reason: `reason${seq}`,
            detail: `{"n":${seq}}`,
            prevHash: prev,
            hash: `hash${seq}`,
            node: `node${seq}`,
          };
          prev = record.hash;
          return record;
        });
      };
      const written: AuditRecord[] = [];
      for (const count of [1, 3, 1, 3, 130, 64, 1]) {
        written.push(...(await store.audit.append((head) => full(head, count, 'upload'))));
      }
      written.push(...(await store.audit.append((head) => full(head, 1, 'checkpoint'))));
      const stored = await store.audit.page({ limit: 1000 });
      assert.deepEqual(stored, written);
      let checkpointHead: AuditChainHead | undefined;
      await store.audit.append((head) => {
        checkpointHead = head;
        return full(head, 2, 'upload');
      });
      assert.deepEqual(checkpointHead, { seq: 204, hash: 'hash204', lastCheckpointSeq: 204 });
    }));

  test(`${name}: audit pages filter by user, action and time, and page by seq`, () =>
    withStore(async (store) => {
      const days = ['01', '02', '03', '04', '05', '06'];
      await store.audit.append(
        chained(
          days.map((d, i) => ({
            at: `2026-01-${d}T00:00:00.000Z`,
            action: i % 2 === 0 ? ('upload' as const) : ('download' as const),
            user: i < 3 ? 'ann' : 'ben',
          })),
        ),
      );
      const seqs = (records: AuditRecord[]) => records.map((r) => r.seq);
      assert.deepEqual(seqs(await store.audit.page({ user: 'ann', limit: 10 })), [1, 2, 3]);
      assert.deepEqual(seqs(await store.audit.page({ actions: ['download'], limit: 10 })), [2, 4, 6]);
      assert.deepEqual(
        seqs(
          await store.audit.page({
            since: '2026-01-02T00:00:00.000Z',
            until: '2026-01-04T00:00:00.000Z',
            limit: 10,
          }),
        ),
        [2, 3],
      );
      assert.deepEqual(seqs(await store.audit.page({ afterSeq: 2, throughSeq: 5, limit: 2 })), [3, 4]);
      assert.deepEqual(seqs(await store.audit.tail(2)), [5, 6]);
      assert.equal((await store.audit.latest('upload'))?.seq, 5);
      assert.equal(await store.audit.latest('prune'), undefined);
      assert.deepEqual(await store.audit.seqRange('2026-01-03T00:00:00.000Z'), { first: 3, last: 6 });
      assert.equal(await store.audit.seqRange('2027-01-01T00:00:00.000Z'), undefined);
    }));

  test(`${name}: audit prune deletes through the newest old record and appends the cut record in one go`, () =>
    withStore(async (store) => {
      await store.audit.append(
        chained(
          ['01', '02', '03', '04'].map((d) => ({
            at: `2026-01-${d}T00:00:00.000Z`,
            action: 'upload' as const,
          })),
        ),
      );
      assert.equal(
        await store.audit.prune('2026-01-01T00:00:00.000Z', () => assert.fail('nothing is older')),
        undefined,
      );
      const pruned = await store.audit.prune('2026-01-03T00:00:00.000Z', (cut, head) => {
        assert.deepEqual(cut, { firstKeptSeq: 3, prevHash: 'h2', deleted: 2 });
        assert.deepEqual(head, { seq: 4, hash: 'h4' });
        return chained([{ at: '2026-02-01T00:00:00.000Z', action: 'prune' }])(head);
      });
      assert.equal(pruned?.records[0]?.seq, 5);
      assert.deepEqual(
        (await store.audit.page({ limit: 10 })).map((r) => r.seq),
        [3, 4, 5],
      );
    }));
}
