// /api/admins/{name}/totp: an admin enrols another administrator's one-time codes over HTTP (shown once) and
// removes them; console logins then need a code, then do not; other roles are refused; the trail has the actor.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
const PASSWORD = 'a long passphrase for carol';

before(async () => {
  api = await startApiTestServer();
  await api.server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'carol',
    role: 'operator',
    password: new Secret(PASSWORD),
  });
});

after(async () => {
  await api?.close();
});

const login = (code?: string) =>
  api.call('POST', '/api/login', { body: { name: 'carol', password: PASSWORD, ...(code ? { code } : {}) } });

test('the admin enrols and removes TOTP; the enrolment is in that answer only; other roles are refused', async () => {
  const { call, keys } = api;
  assert.equal((await login()).status, 200, 'password alone before enrolment');
  for (const role of ['operator', 'auditor'] as const) {
    assertProblem(
      await call('POST', '/api/admins/carol/totp', { key: keys[role] }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('DELETE', '/api/admins/carol/totp', { key: keys[role] }),
      403,
      'ERR_PERMISSION_DENIED',
    );
  }
  assertProblem(await call('POST', '/api/admins/nobody/totp', { key: keys.admin }), 404, 'ERR_NOT_FOUND');
  assert.equal(await api.server.running.context.store.apiAdminTotp.getTotp('nobody'), undefined);
  assert.equal(
    await api.server.running.context.store.apiAdminTotp.getTotp('carol'),
    undefined,
    'nothing enrolled yet',
  );

  const enrolled = await call('POST', '/api/admins/carol/totp', { key: keys.admin });
  assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
  assert.match(enrolled.body.uri, /^otpauth:\/\/totp\//);
  assert.match(enrolled.body.secret, /^[A-Z2-7]{16,}$/);
  assert.equal(new URL(enrolled.body.uri).searchParams.get('secret'), enrolled.body.secret);
  assert.ok(enrolled.body.recoveryCodes.length >= 5);
  assertProblem(await login(), 401, 'ERR_UNAUTHENTICATED');
  assert.equal((await login(enrolled.body.recoveryCodes[0])).status, 200, 'a recovery code works once');

  const records = await api.adminRecords();
  const enable = records.find((r) => r.detail.command === 'admins totp enable');
  assert.equal(enable?.actor, 'api:admin-key');
  assert.equal(enable?.target, 'carol');
  assert.equal(
    JSON.stringify(records).includes(enrolled.body.secret),
    false,
    'the secret is not in the trail',
  );

  assert.equal((await call('DELETE', '/api/admins/carol/totp', { key: keys.admin })).status, 204);
  assertProblem(await call('DELETE', '/api/admins/carol/totp', { key: keys.admin }), 404, 'ERR_NOT_FOUND');
  assert.equal((await login()).status, 200, 'password alone again');
  const disable = (await api.adminRecords()).find((r) => r.detail.command === 'admins totp disable');
  assert.equal(disable?.actor, 'api:admin-key');
});
