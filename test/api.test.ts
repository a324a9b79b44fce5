// The REST API against a real server on ephemeral ports: each route's happy path, problems, roles and the audit trail.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { makeClientKey } from './helpers/openssh.js';
import type { TestServer } from './helpers/server.js';

let api: ApiTestServer;
let server: TestServer;
let base: string;
let work: string;
let keys: ApiTestServer['keys'];
let userKey = '';
const call: ApiTestServer['call'] = (...args) => api.call(...args);
const adminRecords = () => api.adminRecords();

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-'));
  api = await startApiTestServer();
  ({ server, base, keys } = api);
  userKey = (await makeClientKey(work, 'ed25519')).publicText.trim();
});

after(async () => {
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('REST API', () => {
  test('probes: /healthz is up, /readyz checks store, listeners, disk and audit', async () => {
    assert.deepEqual((await call('GET', '/healthz')).body, { status: 'ok' });
    const ready = await call('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, {
      status: 'ready',
      checks: { store: true, listeners: true, disk: true, audit: true, accepting: true },
    });
  });

  test('no key is 401 with WWW-Authenticate, an unknown key is 401, both as problems', async () => {
    const none = await fetch(`${base}/api/users`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assertProblem(await call('GET', '/api/users'), 401, 'ERR_UNAUTHENTICATED');
    assertProblem(
      await call('GET', '/api/users', { key: `ferry_${'A'.repeat(43)}` }),
      401,
      'ERR_UNAUTHENTICATED',
    );
    assertProblem(await call('GET', '/api/users', { key: 'not-a-ferry-key' }), 401, 'ERR_UNAUTHENTICATED');
  });

  test('POST /api/users creates a user with a password and a key; the trail records api:<name>', async () => {
    const reply = await call('POST', '/api/users', {
      key: keys.operator,
      body: { username: 'alice', password: 'alice-pw-123456', publicKeys: [userKey] },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    assert.equal(reply.body.name, 'alice');
    assert.equal(reply.body.hasPassword, true);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
    assert.equal(reply.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(reply.headers.get('location'), '/api/users/alice');
    assert.equal(reply.body.publicKeys.length, 1);
    assert.match(reply.body.publicKeys[0].fingerprint, /^SHA256:/);
    assert.equal(JSON.stringify(reply.body).includes('alice-pw-123456'), false);
    const record = (await adminRecords()).filter((r) => r.target === 'alice').at(-1);
    assert.ok(record, 'an admin record for alice');
    assert.equal(record.actor, 'api:operator-key');
    assert.equal(record.protocol, 'api');
    assert.equal(record.address, '127.0.0.1');
    assert.equal(record.detail.command, 'users add');
  });

  test('validation errors are problems naming the field; nothing is created', async () => {
    const missing = await call('POST', '/api/users', { key: keys.operator, body: { password: 'x' } });
    assertProblem(missing, 400, 'ERR_INVALID_ARGUMENT');
    assert.match(missing.body.detail, /username/);
    assert.equal(missing.body.errors[0].path, 'body.username');
    const extra = await call('POST', '/api/users', {
      key: keys.operator,
      body: { username: 'x', admin: true },
    });
    assertProblem(extra, 400, 'ERR_INVALID_ARGUMENT');
    const badKey = await call('POST', '/api/users', {
      key: keys.operator,
      body: { username: 'mallory', publicKeys: ['ssh-ed25519 notbase64'] },
    });
    assertProblem(badKey, 400, 'ERR_INVALID_ARGUMENT');
    assertProblem(await call('GET', '/api/users/mallory', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    const malformed = await fetch(`${base}/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.operator}`, 'content-type': 'application/json' },
      body: '{"username":',
    });
    assert.equal(malformed.status, 400);
    assert.match(malformed.headers.get('content-type') ?? '', /problem\+json/);
    assertProblem(
      await call('POST', '/api/users', { key: keys.operator, body: { username: 'alice' } }),
      409,
      'ERR_ALREADY_EXISTS',
    );
    assertProblem(
      await call('GET', '/api/users?limit=0', { key: keys.operator }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
  });

  test('GET /api/users pages with a cursor; GET one shows it', async () => {
    for (const name of ['u1', 'u2', 'u3']) await server.addUser(name, { password: 'pw-123456789' });
    const seen: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null) {
      const page = await call('GET', `/api/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        key: keys.operator,
      });
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((u: { name: string }) => u.name));
      cursor = page.body.nextCursor;
      pages++;
    }
    assert.deepEqual(seen, ['admin', 'alice', 'u1', 'u2', 'u3']);
    assert.equal(pages, 3);
    const one = await call('GET', '/api/users/u1', { key: keys.admin });
    assert.equal(one.body.name, 'u1');
  });

  test('PATCH, keys, disable/enable, unlock and DELETE change the user and are each audited', async () => {
    const patched = await call('PATCH', '/api/users/u1', {
      key: keys.operator,
      body: { permissions: ['/in=list,upload'], allowedSources: ['10.0.0.0/8'], password: 'new-pw-123456' },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.permissions['/in'], ['list', 'upload']);
    assert.deepEqual(patched.body.allowedSources, ['10.0.0.0/8']);
    const added = await call('POST', '/api/users/u1/keys', {
      key: keys.operator,
      body: { publicKeys: [userKey] },
    });
    assert.equal(added.status, 200);
    assert.equal(added.body.fingerprints.length, 1);
    const fp = encodeURIComponent(added.body.fingerprints[0]);
    const removed = await call('DELETE', `/api/users/u1/keys/${fp}`, { key: keys.operator });
    assert.deepEqual(removed.body.fingerprints, added.body.fingerprints);
    assert.equal((await call('POST', '/api/users/u1/disable', { key: keys.operator })).body.disabled, true);
    assert.equal((await call('POST', '/api/users/u1/enable', { key: keys.operator })).body.disabled, false);
    assert.equal((await call('POST', '/api/users/u1/unlock', { key: keys.operator })).status, 200);
    await server.running.context.admin.users.enableTotp(cliActor(), 'u1');
    const reset = await call('DELETE', '/api/users/u1/totp', { key: keys.operator });
    assert.deepEqual(reset.body.requiredMethods, []);
    assertProblem(await call('DELETE', '/api/users/u1/totp', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    assert.equal((await call('DELETE', '/api/users/u1', { key: keys.operator })).status, 204);
    assertProblem(await call('GET', '/api/users/u1', { key: keys.operator }), 404, 'ERR_NOT_FOUND');
    const commands = (await adminRecords())
      .filter((r) => r.target === 'u1')
      .map((r) => `${r.detail.command} ${r.actor}`);
    assert.deepEqual(commands, [
      'users set api:operator-key',
      'users passwd api:operator-key',
      'users keys add api:operator-key',
      'users keys remove api:operator-key',
      'users disable api:operator-key',
      'users enable api:operator-key',
      'users unlock api:operator-key',
      'users totp enable cli:root',
      'users totp disable api:operator-key',
      'users remove api:operator-key',
    ]);
  });

  test('roles: the auditor reads audit, sessions and status but cannot touch users; the operator cannot manage keys', async () => {
    const denied = await call('POST', '/api/users', {
      key: keys.auditor,
      body: { username: 'eve', password: 'eve-pw-1234' },
    });
    assertProblem(denied, 403, 'ERR_PERMISSION_DENIED');
    assertProblem(await call('GET', '/api/users', { key: keys.auditor }), 403, 'ERR_PERMISSION_DENIED');
    assertProblem(await call('GET', '/api/apikeys', { key: keys.operator }), 403, 'ERR_PERMISSION_DENIED');
    assertProblem(
      await call('POST', '/api/apikeys', { key: keys.operator, body: { name: 'x', role: 'admin' } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(await call('GET', '/api/admins', { key: keys.operator }), 403, 'ERR_PERMISSION_DENIED');
    assertProblem(await call('GET', '/api/jobs', { key: keys.auditor }), 403, 'ERR_PERMISSION_DENIED');
    for (const path of ['/api/audit?limit=1', '/api/sessions', '/api/status', '/api/audit/verify'])
      assert.equal((await call('GET', path, { key: keys.auditor })).status, 200, path);
    for (const path of ['/api/users', '/api/partners', '/api/jobs', '/api/sessions'])
      assert.equal((await call('GET', path, { key: keys.operator })).status, 200, path);
    assertProblem(await call('GET', '/api/users/eve', { key: keys.admin }), 404, 'ERR_NOT_FOUND');
  });

  test('the admin issues, lists and revokes API keys; a revoked key is refused at once', async () => {
    const issued = await call('POST', '/api/apikeys', {
      key: keys.admin,
      body: { name: 'ci', role: 'auditor' },
    });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.match(issued.body.key, /^ferry_[A-Za-z0-9_-]{43}$/);
    assert.equal(issued.body.key.startsWith(issued.body.prefix), true);
    assert.equal(issued.body.createdBy, 'api:admin-key');
    assert.equal((await call('GET', '/api/status', { key: issued.body.key })).status, 200);
    const listed = await call('GET', '/api/apikeys', { key: keys.admin });
    const ci = listed.body.items.find((k: { name: string }) => k.name === 'ci');
    assert.ok(ci.lastUsed, 'last use recorded');
    assert.equal(JSON.stringify(listed.body).includes(issued.body.key), false, 'never the key again');
    assert.equal((await call('DELETE', '/api/apikeys/ci', { key: keys.admin })).status, 204);
    assertProblem(await call('GET', '/api/status', { key: issued.body.key }), 401, 'ERR_UNAUTHENTICATED');
    const expired = await call('POST', '/api/apikeys', {
      key: keys.admin,
      body: { name: 'old', role: 'auditor', expiresAt: '2001-01-01T00:00:00Z' },
    });
    assertProblem(expired, 400, 'ERR_INVALID_ARGUMENT');
    const admin = await call('POST', '/api/admins', {
      key: keys.admin,
      body: { name: 'carol', role: 'auditor', password: 'carol-long-passphrase' },
    });
    assert.equal(admin.status, 201);
    assert.deepEqual(
      (await call('GET', '/api/admins', { key: keys.admin })).body.items.map((a: { name: string }) => a.name),
      // 'admin' is the administrator the first start creates.
      ['admin', 'carol'],
    );
    assert.equal((await call('DELETE', '/api/admins/carol', { key: keys.admin })).status, 204);
    const actions = (await adminRecords()).map((r) => `${r.detail.command} ${r.target}`);
    for (const expected of [
      'apikeys add api key ci',
      'apikeys remove api key ci',
      'admins add carol',
      'admins remove carol',
    ])
      assert.ok(actions.includes(expected), `${expected} in ${actions.join('; ')}`);
  });

  test('status names the version, listeners, store, disk and serving processes', async () => {
    const status = await call('GET', '/api/status', { key: keys.auditor });
    assert.equal(status.body.version, '0.1.0');
    assert.deepEqual(
      status.body.listeners.map((l: { name: string; port: number }) => [l.name, l.port]),
      [
        ['sftp', server.port],
        ['http', server.running.httpPort],
      ],
    );
    assert.deepEqual(status.body.store, { driver: 'sqlite', reachable: true });
    assert.ok(status.body.disk.freeBytes > 0);
    assert.deepEqual(status.body.workers, [process.pid], 'one serving process: this one');
  });
});
