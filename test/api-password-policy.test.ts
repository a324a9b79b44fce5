// The password policy through the REST API (and so the console, which calls it): a password breaking a rule or
// repeating a recent one is a 400 naming the rule that changes nothing; mustChangePassword is set, shown and audited.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { sftpBatch } from './helpers/openssh.js';

let api: ApiTestServer;

before(async () => {
  api = await startApiTestServer({
    config: {
      passwordPolicy: { minLength: 12, minClasses: 2, minEntropyBits: 60, history: 3, maxAgeDays: 0 },
    },
  });
});
after(async () => {
  await api?.close();
});

test('POST and PATCH /api/users apply the password policy; mustChangePassword is set and audited', async () => {
  const key = api.keys.operator;
  const weak = await api.call('POST', '/api/users', { key, body: { username: 'ppa', password: 'short1' } });
  assertProblem(weak, 400, 'ERR_INVALID_ARGUMENT');
  assert.match(JSON.stringify(weak.body), /at least 12 characters \(passwordPolicy\.minLength\)/);
  assert.equal((await api.call('GET', '/api/users/ppa', { key })).status, 404, 'nothing was created');
  // Long enough and two classes, but one letter repeated: the entropy estimate refuses it.
  const guessable = await api.call('POST', '/api/users', {
    key,
    body: { username: 'ppa', password: 'aaaaaaaaaaaaaa1' },
  });
  assertProblem(guessable, 400, 'ERR_INVALID_ARGUMENT');
  assert.match(JSON.stringify(guessable.body), /too easy to guess .*\(passwordPolicy\.minEntropyBits\)/);
  assert.equal((await api.call('GET', '/api/users/ppa', { key })).status, 404, 'nothing was created');

  const created = await api.call('POST', '/api/users', {
    key,
    body: { username: 'ppa', password: 'Initial-password-1' },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.mustChangePassword, false);
  assert.ok(created.body.passwordChanged, 'the time it was set is shown');

  const reused = await api.call('PATCH', '/api/users/ppa', { key, body: { password: 'Initial-password-1' } });
  assertProblem(reused, 400, 'ERR_INVALID_ARGUMENT');
  assert.match(JSON.stringify(reused.body), /one of the last 3 passwords of ppa \(passwordPolicy\.history\)/);
  const login = (password: string) =>
    sftpBatch({ port: api.server.port, user: 'ppa', password, batch: 'pwd\n' });
  assert.equal((await login('Initial-password-1')).code, 0, 'the password did not change');

  const flagged = await api.call('PATCH', '/api/users/ppa', { key, body: { mustChangePassword: true } });
  assert.equal(flagged.status, 200, JSON.stringify(flagged.body));
  assert.equal(flagged.body.mustChangePassword, true);
  const record = (await api.adminRecords()).filter((r) => r.target === 'ppa').at(-1);
  assert.deepEqual(record?.detail.changes.mustChangePassword, { from: false, to: true });
  // A non-interactive client cannot answer the change request: refused until the password is changed.
  assert.notEqual((await login('Initial-password-1')).code, 0);

  const changed = await api.call('PATCH', '/api/users/ppa', {
    key,
    body: { password: 'Another-password-2' },
  });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.equal(changed.body.mustChangePassword, false, 'an administrator setting a password clears the flag');
  assert.equal((await login('Another-password-2')).code, 0);

  // A temporary password the user must replace at the next login, in one request.
  const temporary = await api.call('PATCH', '/api/users/ppa', {
    key,
    body: { password: 'Temporary-password-3', mustChangePassword: true },
  });
  assert.equal(temporary.status, 200, JSON.stringify(temporary.body));
  assert.equal(temporary.body.mustChangePassword, true);
});
