// Transfer quotas through the REST API: PATCH /api/users/{name} and the groups' routes take them (as objects or as
// the CLI spells them), a bad one is a 400 that changes nothing, the effective view shows the inherited limits with
// their usage, and the change is audited.
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

test('PATCH /api/users and /api/groups set transfer quotas; the effective view shows them with usage', async () => {
  const key = api.keys.operator;
  const created = await api.call('POST', '/api/users', {
    key,
    body: { username: 'tqa', password: 'tqa-pw-1234' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.transferQuotas, {});

  const patched = await api.call('PATCH', '/api/users/tqa', {
    key,
    body: { transferQuotas: { upload: '10GiB/day', download: { bytes: 5000, period: 'month' } } },
  });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(patched.body.transferQuotas, {
    upload: { bytes: 10 * 1024 ** 3, period: 'day' },
    download: { bytes: 5000, period: 'month' },
  });
  const record = (await api.adminRecords()).filter((r) => r.target === 'tqa').at(-1);
  assert.deepEqual(record?.detail.changes.transferQuotas.to, patched.body.transferQuotas);

  for (const body of [
    { transferQuotas: { upload: '10XB/day' } },
    { transferQuotas: { upload: { bytes: 0, period: 'day' } } },
    { transferQuotas: { upload: { bytes: 10, period: 'week' } } },
    { transferQuotas: { sideways: '1GiB/day' } },
  ]) {
    const bad = await api.call('PATCH', '/api/users/tqa', { key, body });
    assertProblem(bad, 400, 'ERR_INVALID_ARGUMENT');
  }
  assert.deepEqual(
    (await api.call('GET', '/api/users/tqa', { key })).body.transferQuotas,
    patched.body.transferQuotas,
  );

  const group = await api.call('POST', '/api/groups', {
    key,
    body: { name: 'tq-partners', transferQuotas: { total: '1GiB/month', upload: '1MiB/day' } },
  });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const joined = await api.call('PATCH', '/api/users/tqa', {
    key,
    body: { group: 'tq-partners', transferQuotas: { upload: null } },
  });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  assert.deepEqual(joined.body.transferQuotas, { download: { bytes: 5000, period: 'month' } });
  await api.server.running.context.store.transferUsage.charge('tqa', 'download', 1234, {}, new Date());
  const effective = await api.call('GET', '/api/users/tqa/effective', { key });
  assert.equal(effective.status, 200, JSON.stringify(effective.body));
  assert.deepEqual(effective.body.transferQuotas, {
    upload: { bytes: 1024 ** 2, period: 'day' },
    download: { bytes: 5000, period: 'month' },
    total: { bytes: 1024 ** 3, period: 'month' },
  });
  assert.deepEqual(effective.body.sources.transferQuotas, {
    upload: 'group tq-partners',
    download: 'user',
    total: 'group tq-partners',
  });
  assert.deepEqual(effective.body.transferUsage.month, { uploaded: 0, downloaded: 1234 });

  const cleared = await api.call('PATCH', '/api/groups/tq-partners', {
    key,
    body: { transferQuotas: { total: null } },
  });
  assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
  assert.deepEqual(cleared.body.transferQuotas, { upload: { bytes: 1024 ** 2, period: 'day' } });
});
