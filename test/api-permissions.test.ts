// GET /api/permissions: each role reads exactly the permissions the API enforces for it (the console shows its
// forms from this), by API key and by console session; no caller, no answer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;

before(async () => {
  api = await startApiTestServer();
});
after(async () => {
  await api?.close();
});

test('each role gets its own permissions, and they are the ones the API enforces', async () => {
  const grants: Record<string, string[]> = {};
  for (const role of ['admin', 'operator', 'auditor'] as const) {
    const reply = await api.call('GET', '/api/permissions', { key: api.keys[role] });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.role, role);
    grants[role] = reply.body.permissions;
    assert.deepEqual(grants[role], [...grants[role]!].sort());
  }
  assert.ok(grants.admin!.includes('rules:write'));
  assert.ok(!grants.operator!.includes('rules:write'));
  assert.ok(grants.operator!.includes('partners:write') && grants.operator!.includes('jobs:run'));
  assert.ok(grants.operator!.includes('rules:redeliver'));
  assert.ok(!grants.auditor!.includes('partners:read'));
  assert.ok(grants.auditor!.includes('audit:read'));
  // What it says is what the API does: the operator may list partners and may not define a rule, the auditor
  // may not even list partners.
  assert.equal((await api.call('GET', '/api/partners', { key: api.keys.operator })).status, 200);
  assertProblem(
    await api.call('POST', '/api/rules', {
      key: api.keys.operator,
      body: { name: 'x', events: [], actions: [] },
    }),
    403,
    'ERR_PERMISSION_DENIED',
  );
  assertProblem(
    await api.call('GET', '/api/partners', { key: api.keys.auditor }),
    403,
    'ERR_PERMISSION_DENIED',
  );
});

test('a console session reads its role too; without credentials it is refused', async () => {
  const access = api.server.running.context.admin.apiAccess;
  await access.addAdmin(cliActor(), {
    name: 'olga',
    role: 'operator',
    password: new Secret('olga-passphrase-1'),
  });
  const login = await fetch(`${api.base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'olga', password: 'olga-passphrase-1' }),
  });
  const cookie = /^(ferry_session=[^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
  const reply = await fetch(`${api.base}/api/permissions`, { headers: { cookie } });
  assert.equal(reply.status, 200);
  const body = (await reply.json()) as { role: string; permissions: string[] };
  assert.equal(body.role, 'operator');
  assert.ok(body.permissions.includes('jobs:write'));
  assertProblem(await api.call('GET', '/api/permissions'), 401, 'ERR_UNAUTHENTICATED');
});
