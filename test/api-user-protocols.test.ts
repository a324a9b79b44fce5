// Allowed protocols through the REST API: create and PATCH take `protocols`, the user's view shows it, an unknown
// protocol is a 400 that changes nothing, and a change is enforced on the next OpenSSH login.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { sftpBatch } from './helpers/openssh.js';

const PW = 'api-protocols-pw-31';
let api: ApiTestServer;

before(async () => {
  api = await startApiTestServer();
});
after(async () => {
  await api?.close();
});

test('POST and PATCH /api/users set protocols; a bad one is refused whole; the change holds at the next login', async () => {
  const key = api.keys.operator;
  const created = await api.call('POST', '/api/users', {
    key,
    body: { username: 'pat', password: PW, protocols: ['https', 'sftp', 'sftp'] },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.protocols, ['sftp', 'https']);
  const login = () => sftpBatch({ port: api.server.port, user: 'pat', password: PW, batch: 'pwd\n' });
  assert.equal((await login()).code, 0);

  const bad = await api.call('PATCH', '/api/users/pat', { key, body: { protocols: ['https', 'gopher'] } });
  assertProblem(bad, 400, 'ERR_INVALID_ARGUMENT');
  assert.deepEqual((await api.call('GET', '/api/users/pat', { key })).body.protocols, ['sftp', 'https']);

  const patched = await api.call('PATCH', '/api/users/pat', { key, body: { protocols: ['https'] } });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.deepEqual(patched.body.protocols, ['https']);
  const refused = await login();
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Permission denied/);
  const record = (await api.adminRecords()).filter((r) => r.target === 'pat').at(-1);
  assert.deepEqual(record?.detail.changes.protocols, { from: ['sftp', 'https'], to: ['https'] });

  const all = await api.call('PATCH', '/api/users/pat', { key, body: { protocols: [] } });
  assert.deepEqual(all.body.protocols, []);
  assert.equal((await login()).code, 0);
});
