// POST /api/rules/{name}/test/run: `ferry rules test --run` over HTTP. A real webhook receiver gets the signed
// request once; a sample the rule does not fire for runs nothing; only the admin may; the trail has the run.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const SECRET = 'api-rules-run-test-secret-0123456789';
let api: ApiTestServer;
let receiver: WebhookReceiver;

before(async () => {
  api = await startApiTestServer();
  receiver = await startWebhookReceiver(SECRET);
  const made = await api.call('POST', '/api/rules', {
    key: api.keys.admin,
    body: {
      name: 'probe',
      events: ['upload'],
      conditions: { paths: ['/in/**'] },
      actions: [{ kind: 'webhook', url: receiver.url }],
      secret: SECRET,
    },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
});

after(async () => {
  await api?.close();
  await receiver?.close();
});

test('the admin runs a rule once for a sample: the receiver gets one signed request; nothing is queued', async () => {
  const { call, keys } = api;
  for (const role of ['operator', 'auditor'] as const)
    assertProblem(
      await call('POST', '/api/rules/probe/test/run', { key: keys[role], body: { path: '/in/a.csv' } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
  const missed = await call('POST', '/api/rules/probe/test/run', {
    key: keys.admin,
    body: { path: '/out/a.csv' },
  });
  assert.equal(missed.status, 200, JSON.stringify(missed.body));
  assert.deepEqual([missed.body.fires, missed.body.ran], [false, []]);
  assert.equal(receiver.received.length, 0, 'a sample the rule does not fire for runs nothing');

  const ran = await call('POST', '/api/rules/probe/test/run', {
    key: keys.admin,
    body: { path: '/in/a.csv', user: 'acme', size: 2048 },
  });
  assert.equal(ran.status, 200, JSON.stringify(ran.body));
  assert.equal(ran.body.fires, true);
  assert.deepEqual(
    ran.body.ran.map((r: { action: number; kind: string; ok: boolean; responseCode: number }) => [
      r.action,
      r.kind,
      r.ok,
      r.responseCode,
    ]),
    [[1, 'webhook', true, 200]],
  );
  assert.equal(receiver.received.length, 1);
  const [hook] = receiver.received;
  assert.equal(hook?.verified, true, 'signed with the rule secret');
  assert.deepEqual(
    [hook?.body.data.path, hook?.body.data.user, hook?.body.data.size],
    ['/in/a.csv', 'acme', '2048'],
  );
  assert.deepEqual((await call('GET', '/api/deliveries?rule=probe', { key: keys.admin })).body.items, []);
  const runs = (await api.adminRecords()).filter((r) => r.detail.command === 'rules test run');
  assert.equal(runs.length, 1, 'the run is recorded; the one that did not fire is not');
  assert.equal(runs[0].actor, 'api:admin-key');
  assert.equal(runs[0].target, 'rule probe');
  assert.equal(JSON.stringify(runs).includes(SECRET), false);
});

test('bad samples are one-line 400s and run nothing', async () => {
  const { call, keys } = api;
  const before = receiver.received.length;
  for (const body of [{ event: 'uplaod' }, { path: 'relative.csv' }, { size: -1 }, { colour: 'red' }]) {
    const reply = await call('POST', '/api/rules/probe/test/run', { key: keys.admin, body });
    assertProblem(reply, 400, 'ERR_INVALID_ARGUMENT');
    assert.doesNotMatch(reply.body.detail, /\n/);
  }
  assertProblem(await call('POST', '/api/rules/nothing/test/run', { key: keys.admin }), 404, 'ERR_NOT_FOUND');
  assert.equal(receiver.received.length, before);
});
