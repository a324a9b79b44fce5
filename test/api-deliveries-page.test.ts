// GET /api/deliveries pages with a cursor like the other lists: every delivery exactly once, newest first, with
// deliveries made at the same instant ordered by id; a cursor it did not hand out is a one-line 400.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;

before(async () => {
  api = await startApiTestServer();
});

after(async () => {
  await api?.close();
});

test('pages of deliveries cover every one once, in order, and end with a null cursor', async () => {
  const { call, keys } = api;
  // A rule on an event nothing here emits; its deliveries are put in the outbox directly, at three instants.
  const made = await call('POST', '/api/rules', {
    key: keys.admin,
    body: {
      name: 'pager',
      enabled: false,
      events: ['download'],
      actions: [{ kind: 'webhook', url: 'http://127.0.0.1:9/hook' }],
      secret: 'a-signing-secret-of-enough-length',
    },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const store = api.server.running.context.store;
  const ruleId = (await store.rules.list()).find((r) => r.name === 'pager')!.id;
  const ids: string[] = [];
  for (const [i, at] of [
    '2026-01-01T00:00:00.000Z',
    '2026-01-02T00:00:00.000Z',
    '2026-01-03T00:00:00.000Z',
  ].entries()) {
    const batch = Array.from({ length: 5 }, (_, j) => `d-${i}-${String(9 - j)}`);
    ids.push(...batch);
    await store.deliveries.enqueue(
      batch.map((id) => ({ id, ruleId, actionIndex: 0, eventName: 'download', fields: { n: id } })),
      new Date(at),
    );
  }
  const expected = ['2', '1', '0'].flatMap((i) => ids.filter((id) => id.startsWith(`d-${i}-`)).sort());
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `/api/deliveries?rule=pager&limit=4${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await call('GET', query, { key: keys.operator });
    assert.equal(page.status, 200, JSON.stringify(page.body));
    assert.ok(page.body.items.length <= 4);
    seen.push(...page.body.items.map((d: { id: string }) => d.id));
    cursor = page.body.nextCursor;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.deepEqual(seen, expected);
  assert.equal(pages, 4);
  const all = await call('GET', '/api/deliveries?rule=pager&limit=15', { key: keys.auditor });
  assertProblem(all, 403, 'ERR_PERMISSION_DENIED');
  const whole = await call('GET', '/api/deliveries?rule=pager&limit=15', { key: keys.operator });
  assert.equal(whole.body.nextCursor, null, 'an exact last page says there is no next one');
  for (const bad of ['garbage', Buffer.from('["not a date","x"]').toString('base64url'), 'x'.repeat(401)]) {
    const reply = await call('GET', `/api/deliveries?cursor=${bad}`, { key: keys.operator });
    assertProblem(reply, 400, 'ERR_INVALID_ARGUMENT');
    assert.doesNotMatch(reply.body.detail, /\n/);
  }
});
