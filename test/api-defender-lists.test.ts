// The defender's allow and deny lists over the REST API (roles, config base, self-lockout, audit, effect), the
// cursor pages and filters of the short lists, long path segments answered as problems, and an admin's role change.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { type ApiTestServer, assertProblem, type Json, startApiTestServer } from './helpers/api.js';
import { runFerry } from './helpers/cli.js';

let api: ApiTestServer;
let keys: ApiTestServer['keys'];
const call: ApiTestServer['call'] = (...args) => api.call(...args);

before(async () => {
  // The test server allow-lists 127.0.0.1 (its clients fail on purpose); the config also denies one network.
  api = await startApiTestServer({ config: { denyList: '192.0.2.0/28' } });
  ({ keys } = api);
});

after(async () => {
  await api?.close();
});

/** Every item of a listing, page by page (`limit` per page); also returns how many pages it took. */
async function walk(
  path: string,
  limit: number,
  key = keys.admin,
): Promise<{ items: Json[]; pages: number }> {
  const items: Json[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const reply = await call('GET', url, { key });
    assert.equal(reply.status, 200, `${url}: ${JSON.stringify(reply.body)}`);
    assert.ok(reply.body.items.length <= limit);
    items.push(...reply.body.items);
    cursor = reply.body.nextCursor;
    pages++;
  } while (cursor !== null && pages < 50);
  return { items, pages };
}

describe('defender allow and deny lists over HTTP', () => {
  test('the operator adds and removes entries, the auditor reads them, config entries stay; each change audited', async () => {
    const defender = api.server.running.context.defender;
    assert.equal(await defender.verdict('198.51.100.9'), 'allow');
    const added = await call('POST', '/api/defender/deny', {
      key: keys.operator,
      body: { cidr: '198.51.100.0/24', note: 'scanner' },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual(
      [added.body.list, added.body.cidr, added.body.source, added.body.note, added.body.createdBy],
      ['deny', '198.51.100.0/24', 'store', 'scanner', 'api:operator-key'],
    );
    assert.equal(added.headers.get('location'), '/api/defender/deny/198.51.100.0%2F24');
    assert.equal(await defender.verdict('198.51.100.9'), 'deny', 'refused from the next check on');

    const listed = await call('GET', '/api/defender/deny', { key: keys.auditor });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((e: Json) => `${e.source} ${e.cidr}`),
      ['config 192.0.2.0/28', 'store 198.51.100.0/24'],
    );
    assertProblem(
      await call('POST', '/api/defender/deny', { key: keys.auditor, body: { cidr: '203.0.113.9' } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('POST', '/api/defender/deny', { key: keys.operator, body: { cidr: '198.51.100.0/24' } }),
      409,
      'ERR_ALREADY_EXISTS',
    );
    // The same network spelled otherwise is the same entry.
    assertProblem(
      await call('POST', '/api/defender/deny', {
        key: keys.operator,
        body: { cidr: '::ffff:198.51.100.0/120' },
      }),
      409,
      'ERR_ALREADY_EXISTS',
    );
    const bad = await call('POST', '/api/defender/deny', {
      key: keys.operator,
      body: { cidr: '10.0.0.0/33' },
    });
    assertProblem(bad, 400, 'ERR_INVALID_ARGUMENT');
    assert.match(bad.body.detail, /address or CIDR/);
    const self = await call('POST', '/api/defender/deny', {
      key: keys.operator,
      body: { cidr: '127.0.0.0/8' },
    });
    assertProblem(self, 400, 'ERR_INVALID_ARGUMENT');
    assert.match(self.body.detail, /your own address 127\.0\.0\.1/);

    // The config's entries are a base: listed, never removed over HTTP, and the answer says why.
    const allow = await call('GET', '/api/defender/allow?source=config', { key: keys.auditor });
    assert.deepEqual(
      allow.body.items.map((e: Json) => [e.cidr, e.source, e.createdBy]),
      [['127.0.0.1', 'config', null]],
    );
    const base = await call('DELETE', '/api/defender/allow/127.0.0.1', { key: keys.operator });
    assertProblem(base, 403, 'ERR_PERMISSION_DENIED');
    assert.match(base.body.detail, /from the config \(allowList\).*change the config/);
    assertProblem(
      await call('DELETE', '/api/defender/deny/192.0.2.0%2F28', { key: keys.admin }),
      403,
      'ERR_PERMISSION_DENIED',
    );

    assert.equal(
      (await call('DELETE', '/api/defender/deny/198.51.100.0%2F24', { key: keys.operator })).status,
      204,
    );
    assert.equal(await defender.verdict('198.51.100.9'), 'allow');
    assertProblem(
      await call('DELETE', '/api/defender/deny/198.51.100.0%2F24', { key: keys.operator }),
      404,
      'ERR_NOT_FOUND',
    );
    const records = (await api.adminRecords()).filter((r: Json) => r.target === '198.51.100.0/24');
    assert.deepEqual(
      records.map((r: Json) => [r.actor, r.detail.command]),
      [
        ['api:operator-key', 'defender deny add'],
        ['api:operator-key', 'defender deny remove'],
      ],
    );
  });

  test('an allow-listed address is never scored or banned, and the deny list wins over it', async () => {
    const defender = api.server.running.context.defender;
    const added = await call('POST', '/api/defender/allow', {
      key: keys.admin,
      body: { cidr: '2001:DB8:0::/48' },
    });
    assert.equal(added.body.cidr, '2001:db8::/48', 'stored in one spelling');
    assert.equal(await defender.penalize('2001:db8::7', 100, 'test'), undefined, 'not scored');
    assert.equal(await defender.verdict('2001:db8::7'), 'allow');
    assert.equal(
      (await call('POST', '/api/defender/deny', { key: keys.admin, body: { cidr: '2001:db8::7' } })).status,
      201,
    );
    assert.equal(await defender.verdict('2001:db8::7'), 'deny');
    await call('DELETE', '/api/defender/deny/2001%3Adb8%3A%3A7', { key: keys.admin });
    await call('DELETE', '/api/defender/allow/2001%3Adb8%3A%3A%2F48', { key: keys.admin });
    assert.ok((await defender.penalize('2001:db8::7', 1, 'test')) !== undefined, 'scored again once removed');
  });
});

describe('cursor pages and filters of the short lists', () => {
  test('defender lists and bans page with a cursor and filter by source, text and state', async () => {
    for (let i = 1; i <= 5; i++)
      await call('POST', '/api/defender/allow', { key: keys.admin, body: { cidr: `203.0.113.${i}` } });
    const { items, pages } = await walk('/api/defender/allow?source=store&search=203.0.113.', 2);
    assert.deepEqual(
      items.map((e) => e.cidr),
      ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5'],
    );
    assert.equal(pages, 3);
    const store = api.server.running.context.store;
    for (const address of ['192.0.2.70', '192.0.2.71', '192.0.2.72'])
      await store.defender.score(address, 1, 'login failed', new Date(), 600);
    await store.defender.ban('192.0.2.71', new Date(Date.now() + 60_000), 0);
    const scored = await walk('/api/defender?search=192.0.2.7', 1, keys.auditor);
    assert.deepEqual(
      scored.items.map((h) => h.address),
      ['192.0.2.70', '192.0.2.71', '192.0.2.72'],
    );
    const banned = await call('GET', '/api/defender?banned=true&search=192.0.2.7', { key: keys.operator });
    assert.deepEqual(
      banned.body.items.map((h: Json) => h.address),
      ['192.0.2.71'],
    );
  });

  test('API keys, admins, host, client, OpenPGP and X.509 keys and sessions page by cursor and filter', async () => {
    const access = api.server.running.context.admin.apiAccess;
    for (const name of ['ci-1', 'ci-2', 'ci-3']) await access.addKey(cliActor(), { name, role: 'auditor' });
    const apiKeys = await walk('/api/apikeys', 2);
    assert.deepEqual(
      apiKeys.items.map((k) => k.name),
      ['admin-key', 'auditor-key', 'ci-1', 'ci-2', 'ci-3', 'operator-key'],
    );
    assert.equal(apiKeys.pages, 3);
    const auditors = await call('GET', '/api/apikeys?role=auditor&search=ci-', { key: keys.admin });
    assert.deepEqual(
      auditors.body.items.map((k: Json) => k.name),
      ['ci-1', 'ci-2', 'ci-3'],
    );
    for (const name of ['carol', 'dave'])
      await access.addAdmin(cliActor(), {
        name,
        role: name === 'carol' ? 'auditor' : 'operator',
        password: new Secret(`${name}-long-passphrase`),
      });
    const admins = await walk('/api/admins', 1);
    const names = admins.items.map((a) => a.name);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('carol') && names.includes('dave'), names.join());
    const operators = await call('GET', '/api/admins?role=operator&search=DA', { key: keys.admin });
    assert.deepEqual(
      operators.body.items.map((a: Json) => a.name),
      ['dave'],
    );
    const keysAdmin = api.server.running.context.admin.keys;
    await keysAdmin.host.generate(cliActor(), { type: 'ed25519' });
    const hostKeys = await walk('/api/keys/host', 1);
    const ids = hostKeys.items.map((k) => k.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      'oldest first across pages',
    );
    assert.ok(ids.length >= 4);
    const pending = await call('GET', '/api/keys/host?state=pending', { key: keys.operator });
    assert.deepEqual(
      pending.body.items.map((k: Json) => k.state),
      ['pending'],
    );
    const ed25519 = await call('GET', '/api/keys/host?algorithm=ssh-ed25519&state=active', {
      key: keys.operator,
    });
    assert.deepEqual(
      ed25519.body.items.map((k: Json) => k.algorithm),
      ['ssh-ed25519'],
    );
    for (const name of ['acme', 'globex'])
      await keysAdmin.client.generate(cliActor(), name, { type: 'ed25519' });
    const client = await walk('/api/keys/client', 1, keys.operator);
    assert.deepEqual(
      client.items.map((k) => k.name),
      ['acme', 'globex'],
    );
    const search = await call('GET', '/api/keys/client?search=GLO', { key: keys.operator });
    assert.deepEqual(
      search.body.items.map((k: Json) => k.name),
      ['globex'],
    );
    for (const path of [
      '/api/keys/pgp?private=true',
      '/api/keys/x509?expiringWithinDays=30',
      '/api/admins?search=nobody',
    ])
      assert.deepEqual(
        (await call('GET', path, { key: keys.admin })).body,
        { items: [], nextCursor: null },
        path,
      );
    const sessions = await call('GET', '/api/sessions?protocol=sftp&limit=5', { key: keys.auditor });
    assert.deepEqual(sessions.body, { items: [], nextCursor: null });
  });

  test('a cursor that is not one of ours, and a limit out of range, are refused as problems', async () => {
    assertProblem(
      await call('GET', '/api/apikeys?cursor=', { key: keys.admin }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assertProblem(
      await call('GET', '/api/sessions?limit=0', { key: keys.admin }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assertProblem(
      await call('GET', '/api/keys/host?limit=1001', { key: keys.admin }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assertProblem(
      await call('GET', '/api/keys/host?state=lost', { key: keys.admin }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
  });
});

describe('long path segments', () => {
  test('a name up to the schema limit reaches the route; an absurd segment is a 414 problem, not a bare 414', async () => {
    // 200 three-byte letters, percent-encoded: 1800 characters on the wire, and a plain 404 for an unknown user.
    const long = encodeURIComponent('é'.repeat(100) + 'ж'.repeat(100));
    assert.ok(long.length > 100);
    assertProblem(await call('GET', `/api/users/${long}`, { key: keys.admin }), 404, 'ERR_NOT_FOUND');
    // Over the route's own limit (200 characters): its validation answers.
    assertProblem(
      await call('GET', `/api/users/${'a'.repeat(300)}`, { key: keys.admin }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const absurd = await call('GET', `/api/users/${'a'.repeat(5000)}`, { key: keys.admin });
    assertProblem(absurd, 414, 'ERR_INVALID_ARGUMENT');
    assert.equal(absurd.body.title, 'URI Too Long');
    assert.match(absurd.body.detail, /path segment is longer than 2048 characters/);
    assert.ok(absurd.body.instance.length < 300, 'the URL is not echoed whole');
    const undecodable = await call('GET', '/api/users/%E0%A4%A', { key: keys.admin });
    assertProblem(undecodable, 400, 'ERR_INVALID_ARGUMENT');
  });
});

describe('administrator accounts change role', () => {
  test('PATCH /api/admins/{name} and ferry admins set change the role; an open console session gets it at once', async () => {
    const access = api.server.running.context.admin.apiAccess;
    await access.addAdmin(cliActor(), {
      name: 'erin',
      role: 'auditor',
      password: new Secret('erin-long-passphrase'),
    });
    const login = await fetch(`${api.base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'erin', password: 'erin-long-passphrase' }),
    });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const users = () => fetch(`${api.base}/api/users`, { headers: { cookie } }).then((r) => r.status);
    assert.equal(await users(), 403, 'an auditor reads no users');

    const changed = await call('PATCH', '/api/admins/erin', { key: keys.admin, body: { role: 'operator' } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.role, 'operator');
    assert.equal(await users(), 200, 'the open session has the new role');
    assertProblem(
      await call('PATCH', '/api/admins/erin', { key: keys.operator, body: { role: 'admin' } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('PATCH', '/api/admins/erin', { key: keys.admin, body: { role: 'root' } }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assertProblem(
      await call('PATCH', '/api/admins/nobody', { key: keys.admin, body: { role: 'admin' } }),
      404,
      'ERR_NOT_FOUND',
    );
    const set = await runFerry([
      'admins',
      'set',
      'erin',
      '--role',
      'auditor',
      '--data-dir',
      api.server.dataDir,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'admin erin now has role auditor\n');
    assert.equal(await users(), 403);
    const bad = await runFerry(['admins', 'set', 'erin', '--role', 'root', '--data-dir', api.server.dataDir]);
    assert.equal(bad.code, 2);
    const records = (await api.adminRecords()).filter(
      (r: Json) => r.target === 'erin' && r.detail.command === 'admins set',
    );
    assert.deepEqual(
      records.map((r: Json) => [r.actor.split(':')[0], r.detail.changes.role]),
      [
        ['api', { from: 'auditor', to: 'operator' }],
        ['cli', { from: 'operator', to: 'auditor' }],
      ],
    );
  });
});
