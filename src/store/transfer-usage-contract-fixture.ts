// The contract of transfer quota counters every store driver passes (SQLite and PostgreSQL run it): counts per UTC
// day and month, refusals that change nothing, rollover at the period's end, and concurrent counts that never pass
// a limit. The clock is the `at` each call is given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from './types.js';

export function runTransferUsageContract(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>,
): void {
  async function withStore(run: (store: Store) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      await store.users.create({ name: 'tq' });
      await run(store);
    } finally {
      await store.close();
      await cleanup();
    }
  }
  const at = (iso: string) => new Date(iso);

  test(`${name}: transfer quotas and charges past 2^31 bytes (a month of large files)`, () =>
    withStore(async (store) => {
      const t = store.transferUsage;
      const GiB = 2 ** 30;
      const quotas = {
        upload: { bytes: 10 * GiB, period: 'month' as const },
        total: { bytes: 12 * GiB, period: 'day' as const },
      };
      const noon = at('2026-11-30T12:00:00Z');
      assert.equal(await t.charge('tq', 'upload', 3 * GiB, quotas, at('2026-11-29T12:00:00Z')), true);
      assert.equal(await t.charge('tq', 'upload', 6 * GiB, quotas, noon), true);
      assert.equal(await t.charge('tq', 'upload', 2 * GiB, quotas, noon), false, '11 GiB in the month > 10');
      assert.equal(await t.charge('tq', 'download', 5 * GiB, quotas, noon), true);
      assert.equal(await t.charge('tq', 'download', 2 * GiB, quotas, noon), false, '13 GiB in the day > 12');
      assert.deepEqual(await t.usage('tq', noon), {
        day: { uploaded: 6 * GiB, downloaded: 5 * GiB },
        month: { uploaded: 9 * GiB, downloaded: 5 * GiB },
      });
    }));

  test(`${name}: transfer usage counts per day and month, and a refusal counts nothing`, () =>
    withStore(async (store) => {
      const t = store.transferUsage;
      const quotas = { upload: { bytes: 100, period: 'day' as const } };
      const noon = at('2026-11-30T12:00:00Z');
      assert.equal(await t.charge('tq', 'upload', 60, quotas, noon), true);
      assert.equal(await t.charge('tq', 'upload', 41, quotas, noon), false, '101 > 100');
      assert.equal(await t.charge('tq', 'upload', 40, quotas, noon), true, 'exactly the limit');
      assert.equal(await t.charge('tq', 'upload', 1, quotas, noon), false);
      assert.equal(
        await t.charge('tq', 'download', 5000, quotas, noon),
        true,
        'downloads are not limited here',
      );
      assert.deepEqual(await t.usage('tq', noon), {
        day: { uploaded: 100, downloaded: 5000 },
        month: { uploaded: 100, downloaded: 5000 },
      });
      assert.equal(await t.charge('nobody', 'upload', 1, {}, noon), false, 'no such user');
      assert.deepEqual(await t.usage('nobody', noon), {
        day: { uploaded: 0, downloaded: 0 },
        month: { uploaded: 0, downloaded: 0 },
      });
    }));

  test(`${name}: a day's limit starts again at 00:00 UTC, a month's on the 1st; totals count both ways`, () =>
    withStore(async (store) => {
      const t = store.transferUsage;
      const daily = { download: { bytes: 10, period: 'day' as const } };
      assert.equal(await t.charge('tq', 'download', 10, daily, at('2026-11-29T23:59:59.999Z')), true);
      assert.equal(await t.charge('tq', 'download', 1, daily, at('2026-11-29T23:59:59.999Z')), false);
      assert.equal(
        await t.charge('tq', 'download', 10, daily, at('2026-11-30T00:00:00Z')),
        true,
        'a new day',
      );
      const monthly = {
        download: { bytes: 25, period: 'month' as const },
        total: { bytes: 30, period: 'month' as const },
      };
      // 20 downloaded in November so far (10 on each day): 5 more reach the month's download limit.
      assert.equal(await t.charge('tq', 'download', 6, monthly, at('2026-11-30T08:00:00Z')), false);
      assert.equal(await t.charge('tq', 'download', 5, monthly, at('2026-11-30T08:00:00Z')), true);
      // The total (25 down) leaves 5 for uploads.
      assert.equal(await t.charge('tq', 'upload', 6, monthly, at('2026-11-30T09:00:00Z')), false);
      assert.equal(await t.charge('tq', 'upload', 5, monthly, at('2026-11-30T09:00:00Z')), true);
      assert.deepEqual(await t.usage('tq', at('2026-11-30T10:00:00Z')), {
        day: { uploaded: 5, downloaded: 15 },
        month: { uploaded: 5, downloaded: 25 },
      });
      // December: a new month and a new day.
      assert.equal(await t.charge('tq', 'download', 25, monthly, at('2026-12-01T00:00:00Z')), true);
      assert.deepEqual(await t.usage('tq', at('2026-12-01T01:00:00Z')), {
        day: { uploaded: 0, downloaded: 25 },
        month: { uploaded: 0, downloaded: 25 },
      });
      // January drops the November rows (older than the previous month); December's stay readable.
      assert.equal(await t.charge('tq', 'upload', 1, {}, at('2027-01-02T00:00:00Z')), true);
      assert.deepEqual((await t.usage('tq', at('2026-11-30T10:00:00Z'))).month, {
        uploaded: 0,
        downloaded: 0,
      });
      assert.deepEqual((await t.usage('tq', at('2026-12-31T10:00:00Z'))).month, {
        uploaded: 0,
        downloaded: 25,
      });
    }));

  test(`${name}: concurrent counts never pass the limit, and removing the user removes its usage`, () =>
    withStore(async (store) => {
      const t = store.transferUsage;
      const quotas = { total: { bytes: 1000, period: 'month' as const } };
      const when = at('2026-11-15T12:00:00Z');
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          t.charge('tq', i % 2 ? 'upload' : 'download', 100, quotas, when),
        ),
      );
      assert.equal(results.filter(Boolean).length, 10);
      const { month } = await t.usage('tq', when);
      assert.equal(month.uploaded + month.downloaded, 1000);
      const big = { upload: { bytes: 5 * 2 ** 40, period: 'day' as const } };
      assert.equal(await t.charge('tq', 'upload', 4 * 2 ** 40, big, when), true, 'sizes past 2^31');
      await store.users.remove('tq');
      await store.users.create({ name: 'tq' });
      assert.deepEqual((await t.usage('tq', when)).month, { uploaded: 0, downloaded: 0 });
    }));
}
