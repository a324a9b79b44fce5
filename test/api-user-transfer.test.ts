// Users moved over the REST API: the export (password hashes in it) and the import are the admin's alone; an
// SFTPGo dump imported over HTTP logs in over OpenSSH with its PBKDF2 password; a bad dump is a 400 that
// changes nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { sftpBatch } from './helpers/openssh.js';

/** SFTPGo's account documentation: pbkdf2-sha256 of 'password'. */
const PBKDF2 = '$pbkdf2-sha256$150000$E86a9YMX3zC7$R5J62hsSq+pYw00hLLPKBbcGXmq7fj5+/M0IFoYtZbo=';
let api: ApiTestServer;

before(async () => {
  api = await startApiTestServer();
});
after(async () => {
  await api?.close();
});

test('only an admin exports or imports; operators and auditors get 403', async () => {
  for (const key of [api.keys.operator, api.keys.auditor]) {
    assertProblem(await api.call('GET', '/api/users/export', { key }), 403, 'ERR_PERMISSION_DENIED');
    const body = { users: [{ username: 'sneaky', password: PBKDF2 }] };
    assertProblem(await api.call('POST', '/api/users/import', { key, body }), 403, 'ERR_PERMISSION_DENIED');
  }
  assert.equal((await api.call('GET', '/api/users/sneaky', { key: api.keys.admin })).status, 404);
});

test('an SFTPGo dump imported over HTTP: dry run first, then the user logs in with OpenSSH', async () => {
  const key = api.keys.admin;
  const dump = { users: [{ username: 'migrant', password: PBKDF2, status: 1, permissions: { '/': ['*'] } }] };
  const dry = await api.call('POST', '/api/users/import?dryRun=true', { key, body: dump });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.deepEqual(
    { dryRun: dry.body.dryRun, format: dry.body.format, created: dry.body.created },
    {
      dryRun: true,
      format: 'sftpgo',
      created: ['migrant'],
    },
  );
  assert.equal((await api.call('GET', '/api/users/migrant', { key })).status, 404);

  const done = await api.call('POST', '/api/users/import', { key, body: dump });
  assert.deepEqual(done.body.created, ['migrant']);
  const login = await sftpBatch({
    port: api.server.port,
    user: 'migrant',
    password: 'password',
    batch: 'pwd\n',
  });
  assert.equal(login.code, 0, login.stderr);

  const exported = await api.call('GET', '/api/users/export', { key });
  assert.equal(exported.status, 200);
  assert.equal(exported.headers.get('cache-control'), 'no-store');
  const user = exported.body.users.find((u: { name: string }) => u.name === 'migrant');
  assert.match(user.passwordHash, /^\$argon2id\$/, 'the login re-hashed the imported hash');
  const records = await api.adminRecords();
  assert.ok(records.some((r) => r.detail.command === 'users import add' && r.target === 'migrant'));
  assert.ok(records.some((r) => r.detail.command === 'users export'));
});

test('a dump with one bad entry is a 400 naming it, and nothing is imported', async () => {
  const key = api.keys.admin;
  const body = {
    users: [
      { username: 'fine2', password: PBKDF2 },
      { username: 'bad', password: '$6$salt$x' },
    ],
  };
  const reply = await api.call('POST', '/api/users/import', { key, body });
  assertProblem(reply, 400, 'ERR_INVALID_ARGUMENT');
  assert.match(reply.body.detail, /user 2 \(bad\): password hashes of scheme '6' are not supported/);
  assert.equal((await api.call('GET', '/api/users/fine2', { key })).status, 404);
});
