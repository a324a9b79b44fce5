// The contract of the web client's shared logins every store driver passes (runWebSessionContract).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store, WebSessionRecord } from './types.js';

export type WebSessionStoreFactory = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const at = (iso: string) => new Date(iso);

const login = (id: string, createdAt: string, expiresAt: string): WebSessionRecord => ({
  id,
  username: 'alice',
  remoteAddress: '192.0.2.10',
  nodeId: 'web1:2222',
  pid: 4242,
  createdAt: at(createdAt),
  expiresAt: at(expiresAt),
  bytesUp: 0,
  bytesDown: 0,
  filesUp: 0,
  filesDown: 0,
});

export function runWebSessionContract(name: string, makeStore: WebSessionStoreFactory): void {
  test(`${name}: web logins are listed oldest first until they expire or are closed, and count their traffic`, async () => {
    const { store, cleanup } = await makeStore();
    try {
      const web = store.webSessions;
      const now = at('2026-11-30T12:00:00.000Z');
      await web.open(login('web-b', '2026-11-30T10:00:00.000Z', '2026-11-30T22:00:00.000Z'));
      await web.open(login('web-a', '2026-11-30T09:00:00.000Z', '2026-11-30T21:00:00.000Z'));
      await web.open(login('web-old', '2026-11-29T09:00:00.000Z', '2026-11-29T21:00:00.000Z'));
      assert.deepEqual(
        (await web.list(now)).map((s) => s.id),
        ['web-a', 'web-b'],
        'the expired one is not listed',
      );
      assert.equal(await web.get('web-old', now), undefined, 'an expired login is not honoured');
      await web.addTraffic('web-a', { bytesUp: 1000, bytesDown: 0, filesUp: 1, filesDown: 0 });
      await web.addTraffic('web-a', { bytesUp: 5_000_000_000, bytesDown: 7, filesUp: 1, filesDown: 1 });
      await web.addTraffic('web-gone', { bytesUp: 1, bytesDown: 1, filesUp: 1, filesDown: 1 });
      const a = await web.get('web-a', now);
      assert.deepEqual(
        [a?.bytesUp, a?.bytesDown, a?.filesUp, a?.filesDown, a?.nodeId, a?.pid],
        [5_000_001_000, 7, 2, 1, 'web1:2222', 4242],
      );
      assert.equal(a?.createdAt.toISOString(), '2026-11-30T09:00:00.000Z');
      assert.equal((await web.close('web-a'))?.username, 'alice');
      assert.equal(await web.close('web-a'), undefined, 'closed once');
      assert.equal(await web.get('web-a', now), undefined);
      assert.equal(await web.removeExpired(now), 1);
      assert.deepEqual(
        (await web.list(now)).map((s) => s.id),
        ['web-b'],
      );
    } finally {
      await store.close();
      await cleanup();
    }
  });
}
