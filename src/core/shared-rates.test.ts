import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalTokenSource, sessionThrottles } from './shared-rates.js';

const NONE = { upload: 0, download: 0 };

test("a user's sessions take from one bucket per direction; other users and the server cap have their own", async () => {
  const source = new LocalTokenSource();
  const one = sessionThrottles(
    source,
    'alice',
    { upload: 1000, download: 2000 },
    { upload: 5000, download: 0 },
  );
  const two = sessionThrottles(
    source,
    'alice',
    { upload: 1000, download: 2000 },
    { upload: 5000, download: 0 },
  );
  const bob = sessionThrottles(source, 'bob', { upload: 1000, download: 0 }, { upload: 5000, download: 0 });
  for (const s of [one, two, bob]) await s?.upload?.take(1);
  await one?.download?.take(1);
  await two?.download?.take(1);
  // alice upload, alice download, bob upload, the server's upload cap.
  assert.equal(source.size, 4);
  assert.equal(bob?.download, undefined, 'no limit, no throttle');
});

test('no user rate and no server cap: no throttles at all', () => {
  assert.equal(sessionThrottles(new LocalTokenSource(), 'carol', undefined, NONE), undefined);
  assert.equal(sessionThrottles(new LocalTokenSource(), 'carol', NONE, NONE), undefined);
});

test('a changed rate starts its own bucket', async () => {
  const source = new LocalTokenSource();
  await sessionThrottles(source, 'dan', { upload: 1000, download: 0 }, NONE)?.upload?.take(1);
  await sessionThrottles(source, 'dan', { upload: 3000, download: 0 }, NONE)?.upload?.take(1);
  assert.equal(source.size, 2);
});
