// GET /api/audit without a cursor answers the newest matching records, read backwards in windows of the chain:
// the same records a full scan finds, whether the matches are dense, sparse, or fewer than asked for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { canonicalJson, GENESIS_HASH, sealRecord } from '../src/audit/chain.js';
import type { AuditRecord } from '../src/store/types.js';
import { type ApiTestServer, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
const RECORDS = 5000;

before(async () => {
  api = await startApiTestServer();
  await api.server.running.context.audit.flush();
  // Through the store layer: uploads by alice, and every 700th one by bob.
  await api.server.running.context.store.audit.append((head) => {
    const out: AuditRecord[] = [];
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? GENESIS_HASH;
    for (let n = 0; n < RECORDS; n++) {
      const record = sealRecord(
        {
          at: new Date(Date.parse('2026-01-01T00:00:00Z') + n * 1000).toISOString(),
          action: 'upload',
          user: n % 700 === 0 ? 'bob' : 'alice',
          sessionId: `s${n}`,
          address: '192.0.2.1',
          protocol: 'sftp',
          path: `/in/f-${n}.csv`,
          target: null,
          result: 'ok',
          reason: null,
          detail: canonicalJson({ bytes: n }),
        },
        ++seq,
        prev,
      );
      prev = record.hash;
      out.push(record);
    }
    return out;
  });
});

after(async () => {
  await api?.close();
});

/** What a scan of the whole trail answers: the last `limit` of the matching records. */
async function scanned(filter: Record<string, unknown>, limit: number): Promise<number[]> {
  const all: number[] = [];
  for await (const r of api.server.running.context.admin.audit.query(filter)) all.push(r.seq);
  return all.slice(-limit);
}

describe('GET /api/audit, newest first page', () => {
  test('matches a full scan for dense, sparse, glob and too-few matches', async () => {
    const cases: [string, Record<string, unknown>, number][] = [
      ['limit=100', {}, 100],
      ['limit=1', {}, 1],
      ['limit=5&user=bob', { user: 'bob' }, 5],
      ['limit=100&user=bob', { user: 'bob' }, 100],
      ['limit=3&path=/in/f-12*.csv', { pathGlob: '/in/f-12*.csv' }, 3],
      ['limit=10&user=nobody', { user: 'nobody' }, 10],
      [
        `limit=10&until=${encodeURIComponent('2026-01-01T00:10:00.000Z')}`,
        { until: '2026-01-01T00:10:00.000Z' },
        10,
      ],
    ];
    for (const [query, filter, limit] of cases) {
      const reply = await api.call('GET', `/api/audit?${query}`, { key: api.keys.auditor });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const seqs = reply.body.items.map((r: { seq: number }) => r.seq);
      assert.deepEqual(seqs, await scanned(filter, limit), query);
      assert.equal(reply.body.nextAfterSeq, null);
    }
    // bob's records: 8 of them (n = 0, 700, ..., 4900), oldest first.
    const bob = await api.call('GET', '/api/audit?limit=100&user=bob', { key: api.keys.auditor });
    assert.equal(bob.body.items.length, 8);
  });
});
