// Console sessions of administrator accounts: cookie login, CSRF token on changes, logout ends the cookie, bans.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let base: string;

async function login(name: string, password: string): Promise<Response> {
  return fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
}

/** The session cookie's `name=value` from a login answer. */
function sessionCookie(response: Response): string {
  const header = response.headers.get('set-cookie') ?? '';
  const match = /^(ferry_session=[^;]+)/.exec(header);
  assert.ok(match, `a session cookie in ${header}`);
  return match[1]!;
}

before(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.running.httpPort}`;
  const access = server.running.context.admin.apiAccess;
  await access.addAdmin(cliActor(), {
    name: 'olga',
    role: 'operator',
    password: new Secret('olga-passphrase-1'),
  });
  await access.addAdmin(cliActor(), {
    name: 'audrey',
    role: 'auditor',
    password: new Secret('audrey-passphrase-1'),
  });
});

after(async () => {
  await server?.close();
});

describe('console sessions', () => {
  test('a login sets an HttpOnly, Secure, SameSite=Strict cookie; changes need the CSRF token; logout ends the cookie', async () => {
    const response = await login('olga', 'olga-passphrase-1');
    assert.equal(response.status, 200);
    const setCookie = response.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /Secure/);
    assert.match(setCookie, /SameSite=Strict/);
    const body = (await response.json()) as { name: string; role: string; csrfToken: string };
    assert.deepEqual([body.name, body.role], ['olga', 'operator']);
    const cookie = sessionCookie(response);

    const listed = await fetch(`${base}/api/users`, { headers: { cookie } });
    assert.equal(listed.status, 200, 'reads need no token');
    const create = (headers: Record<string, string>) =>
      fetch(`${base}/api/users`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ username: 'viaconsole', password: 'console-pw-123' }),
      });
    const noToken = await create({});
    assert.equal(noToken.status, 403);
    assert.equal(
      ((await noToken.json()) as { detail: string }).detail,
      'missing or wrong x-csrf-token header',
    );
    assert.equal((await create({ 'x-csrf-token': 'x'.repeat(43) })).status, 403);
    assert.equal(
      await server.running.context.store.users.findByName('viaconsole'),
      undefined,
      'nothing created',
    );
    const created = await create({ 'x-csrf-token': body.csrfToken });
    assert.equal(created.status, 201);
    await server.running.context.audit.flush();
    const [record] = await server.running.context.store.audit.tail(1);
    assert.deepEqual([record?.protocol, record?.user, record?.target], ['console', 'olga', 'viaconsole']);

    const whoami = await fetch(`${base}/api/session`, { headers: { cookie } });
    assert.equal(((await whoami.json()) as { csrfToken: string }).csrfToken, body.csrfToken);
    const logout = await fetch(`${base}/api/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': body.csrfToken },
    });
    assert.equal(logout.status, 204);
    // The same cookie, as a thief who copied it would send it, is refused from now on.
    const stolen = await fetch(`${base}/api/users`, { headers: { cookie } });
    assert.equal(stolen.status, 401);
    assert.match(stolen.headers.get('content-type') ?? '', /problem\+json/);
  });

  test('roles apply to console sessions too; a password change ends the sessions of the account', async () => {
    const response = await login('audrey', 'audrey-passphrase-1');
    const { csrfToken } = (await response.json()) as { csrfToken: string };
    const cookie = sessionCookie(response);
    assert.equal((await fetch(`${base}/api/audit?limit=1`, { headers: { cookie } })).status, 200);
    const denied = await fetch(`${base}/api/users/admin/disable`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    assert.equal(denied.status, 403);
    await server.running.context.admin.apiAccess.passwdAdmin(
      cliActor(),
      'audrey',
      new Secret('audrey-passphrase-2'),
    );
    assert.equal((await fetch(`${base}/api/audit?limit=1`, { headers: { cookie } })).status, 401);
  });

  test('a wrong password is 401 and scores the address; banned addresses cannot log in', async () => {
    const guarded = await startTestServer({ config: { allowList: [], defenderThreshold: 5 } });
    try {
      const url = `http://127.0.0.1:${guarded.running.httpPort}`;
      await guarded.running.context.admin.apiAccess.addAdmin(cliActor(), {
        name: 'olga',
        role: 'operator',
        password: new Secret('olga-passphrase-1'),
      });
      const attempt = (password: string) =>
        fetch(`${url}/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'olga', password }),
        });
      const statuses: number[] = [];
      for (let i = 0; i < 1000; i++) statuses.push((await attempt(`guess-${i}`)).status);
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
      assert.ok(
        statuses.slice(5).every((s) => s === 403),
        'banned after the threshold',
      );
      assert.equal((await attempt('olga-passphrase-1')).status, 403, 'even the right password');
    } finally {
      await guarded.close();
    }
  });
});
