// Hammering POST /api/login from one address: 429 with Retry-After, the defender bans it, others still log in.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { LOGIN_LIMIT, REQUEST_LIMIT } from '../src/api/rate-limit.js';
import { Secret } from '../src/util/secret.js';
import { type ApiTestServer, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
let port: number;

before(async () => {
  api = await startApiTestServer();
  port = api.server.running.httpPort ?? 0;
  await api.server.running.context.admin.apiAccess.addAdmin(cliActor(), {
    name: 'carol',
    role: 'operator',
    password: new Secret('carol-passphrase-123'),
  });
});

after(async () => {
  await api?.close();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: { code?: string; detail?: string };
}

/** One request from `from` (127.0.0.1 is on the test server's allow list; 127.0.0.2 and up are not). */
function send(from: string, method: string, path: string, body?: unknown, key?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        localAddress: from,
        headers: {
          ...(text !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}),
        },
      },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => {
          data += d.toString();
        });
        res.on('end', () => {
          const json = String(res.headers['content-type'] ?? '').includes('json');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: json && data ? JSON.parse(data) : {},
          });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('REST API rate limits', () => {
  test('a made-up Bearer token per request does not escape the per-address limit of a public route', async () => {
    const from = '127.0.0.4';
    const statuses: number[] = [];
    for (let sent = 0; sent <= REQUEST_LIMIT.max; sent += 50) {
      const batch = Array.from({ length: Math.min(50, REQUEST_LIMIT.max + 1 - sent) }, () =>
        send(from, 'GET', '/healthz', undefined, `ferry_${randomBytes(12).toString('hex')}`),
      );
      for (const answer of await Promise.all(batch)) statuses.push(answer.status);
    }
    assert.equal(statuses.length, REQUEST_LIMIT.max + 1);
    assert.equal(statuses.filter((s) => s === 200).length, REQUEST_LIMIT.max);
    assert.equal(statuses.filter((s) => s === 429).length, 1, 'the one past the limit is refused');
  });

  test('the web client sign-in has the login limit: 429 after it, per address', async () => {
    const from = '127.0.0.5';
    const statuses: number[] = [];
    for (let i = 0; i <= LOGIN_LIMIT.max; i++)
      statuses.push(
        (await send(from, 'POST', '/files/login', { username: 'carol', password: `g${i}` })).status,
      );
    assert.ok(
      statuses.slice(0, LOGIN_LIMIT.max).every((s) => s !== 429),
      `under the limit: ${statuses}`,
    );
    assert.equal(statuses.at(-1), 429);
    assert.notEqual(
      (await send('127.0.0.6', 'POST', '/files/login', {})).status,
      429,
      'another address is not limited',
    );
  });

  test('a login flood gets 429 with Retry-After, counts with the defender, and bans the address only', async () => {
    const attacker = '127.0.0.2';
    const statuses: number[] = [];
    let limited: Answer | undefined;
    // Until the defender bans the address (its threshold is 15 points: 10 failures alone stay under it).
    for (let i = 0; i < 100 && statuses.at(-1) !== 403; i++) {
      const answer = await send(attacker, 'POST', '/api/login', { name: 'carol', password: `guess-${i}` });
      statuses.push(answer.status);
      if (answer.status === 429) limited ??= answer;
    }
    assert.deepEqual(
      statuses.slice(0, LOGIN_LIMIT.max),
      Array(LOGIN_LIMIT.max).fill(401),
      'wrong passwords are refused until the limit',
    );
    const rest = statuses.slice(LOGIN_LIMIT.max, -1);
    assert.ok(rest.length >= 1 && rest.every((s) => s === 429), `then the rate limit answers: ${rest}`);
    assert.equal(
      statuses.at(-1),
      403,
      'and the limited attempts scored until the defender banned the address',
    );
    assert.ok(limited);
    assert.match(String(limited.headers['content-type']), /^application\/problem\+json/);
    assert.equal(limited.body.code, 'ERR_RATE_LIMITED');
    assert.match(limited.body.detail ?? '', /^too many requests; try again in /);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${limited.headers['retry-after']}`);
    const right = await send(attacker, 'POST', '/api/login', {
      name: 'carol',
      password: 'carol-passphrase-123',
    });
    assert.equal(right.status, 403, 'even the right password, once banned');

    const banned = await api.call('GET', '/api/defender?banned=true', { key: api.keys.operator });
    assert.deepEqual(
      banned.body.items.map((h: { address: string }) => h.address),
      [attacker],
    );
    const withKey = await send(attacker, 'GET', '/api/users', undefined, api.keys.admin);
    assert.equal(withKey.status, 403, 'a banned address is refused with a valid key too');

    // Another address logs in at once.
    const other = await send('127.0.0.3', 'POST', '/api/login', {
      name: 'carol',
      password: 'carol-passphrase-123',
    });
    assert.equal(other.status, 200, JSON.stringify(other.body));
  });
});
