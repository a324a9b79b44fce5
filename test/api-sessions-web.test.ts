// GET /api/sessions lists web client (/files) sign-ins (protocol https, user, address, login time, bytes and files)
// and DELETE ends one: its cookie is refused from the next request on. Signing out removes the session too.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, type Json, startApiTestServer } from './helpers/api.js';
import { WebClient } from './helpers/web-client.js';

let api: ApiTestServer;
const FILE_BYTES = 300_000;

before(async () => {
  api = await startApiTestServer();
  await api.server.addUser('wendy', { password: 'wendy-pw-12345' });
  await api.server.addUser('walt', { password: 'walt-pw-12345' });
  const home = await api.server.homeOf('wendy');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'report.bin'), randomBytes(FILE_BYTES));
});

after(async () => {
  await api?.close();
});

async function webSessions(username: string): Promise<Json[]> {
  const list = await api.call('GET', '/api/sessions?protocol=https', { key: api.keys.auditor });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  return list.body.items.filter((s: Json) => s.username === username);
}

/** Polls until the session shows `ok` (counters are added as the transfer event is handled). */
async function webSessionUntil(username: string, ok: (s: Json) => boolean): Promise<Json> {
  const end = Date.now() + 10_000;
  for (;;) {
    const [found] = await webSessions(username);
    if (found && ok(found)) return found;
    if (Date.now() > end) throw new Error(`no such session of ${username}: ${JSON.stringify(found)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a web client sign-in is listed as https with user, address, login time and what it downloaded', async () => {
  const before = Date.now();
  const web = new WebClient(api.base);
  assert.equal((await web.login('wendy', 'wendy-pw-12345')).status, 303);
  const download = await web.request('GET', '/files/download?path=%2Freport.bin');
  assert.equal(download.status, 200);
  const session = await webSessionUntil('wendy', (s) => s.filesDown === 1);
  assert.match(session.id, /^web-[A-Za-z0-9_-]{12}$/);
  assert.equal(session.protocol, 'https');
  assert.equal(session.remoteAddress, '127.0.0.1');
  assert.equal(session.pid, process.pid);
  assert.equal(session.bytesDown, FILE_BYTES);
  assert.deepEqual([session.bytesUp, session.filesUp, session.transfer], [0, 0, null]);
  const since = Date.parse(session.connectedAt);
  assert.ok(since >= before - 1000 && since <= Date.now(), session.connectedAt);
  // Listed with the others (no filter) too.
  const all = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
  assert.ok(all.body.items.some((s: Json) => s.id === session.id));

  // An auditor may look but not end it; an operator ends it, and the browser's cookie no longer works.
  const refused = await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.auditor });
  assert.equal(refused.status, 403);
  assert.equal((await web.request('GET', '/files/')).status, 200, 'still signed in');
  const killed = await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.operator });
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  assert.deepEqual(
    [killed.body.id, killed.body.username, killed.body.remoteAddress],
    [session.id, 'wendy', '127.0.0.1'],
  );
  const page = await web.request('GET', '/files/');
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/files/login');
  assert.equal((await web.request('GET', '/files/download?path=%2Freport.bin')).status, 303);
  assert.equal((await web.createUpload('/', 'late.bin', 3)).status, 401, 'tus is refused too');
  assert.deepEqual(await webSessions('wendy'), []);
  const again = await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.operator });
  assertProblem(again, 404, 'ERR_NOT_FOUND');

  const records = await api.adminRecords();
  const kill = records.find((r: Json) => r.target === `session ${session.id}`);
  assert.equal(kill?.actor, 'api:operator-key');
  assert.equal(kill?.detail?.command, 'sessions kill', JSON.stringify(kill));
  assert.equal(kill?.detail?.changes?.user, 'wendy', JSON.stringify(kill));

  // Signing in again is a new session; the old cookie stays dead.
  assert.equal((await web.login('wendy', 'wendy-pw-12345')).status, 303);
  const [fresh] = await webSessions('wendy');
  assert.notEqual(fresh?.id, session.id);
});

test('signing out removes the session, and replaying its cookie afterwards is refused', async () => {
  const web = new WebClient(api.base);
  assert.equal((await web.login('walt', 'walt-pw-12345')).status, 303);
  const [session] = await webSessions('walt');
  assert.ok(session, 'listed after sign-in');
  const cookie = web.cookies.get('ferry_files');
  assert.ok(cookie);
  assert.equal((await web.request('POST', '/files/logout', { form: { _csrf: web.csrf } })).status, 303);
  assert.deepEqual(await webSessions('walt'), []);
  // A copy of the cookie kept from before the sign-out (still signed and unexpired) is no session.
  web.cookies.set('ferry_files', cookie);
  assert.equal((await web.request('GET', '/files/')).status, 303);
});

test('a malformed session id is refused with a one-line 400 and ends nothing', async () => {
  const web = new WebClient(api.base);
  assert.equal((await web.login('walt', 'walt-pw-12345')).status, 303);
  for (const id of ['web-short', 'web-AAAAAAAAAAAA%2F..', 'web-AAAAAAAAAAAAA']) {
    const reply = await api.call('DELETE', `/api/sessions/${id}`, { key: api.keys.operator });
    assert.equal(reply.status, 400, `${id}: ${JSON.stringify(reply.body)}`);
    assert.doesNotMatch(reply.body.detail ?? reply.body.title, /\n/);
  }
  const unknown = await api.call('DELETE', '/api/sessions/web-AAAAAAAAAAAA', { key: api.keys.operator });
  assertProblem(unknown, 404, 'ERR_NOT_FOUND');
  assert.equal((await web.request('GET', '/files/')).status, 200, 'still signed in');
});

test('a sign-in its account can no longer use (disabled) is ended and leaves the list at its next request', async () => {
  const web = new WebClient(api.base);
  assert.equal((await web.login('walt', 'walt-pw-12345')).status, 303);
  const before = (await webSessions('walt')).length;
  assert.ok(before >= 1);
  const disabled = await api.call('POST', '/api/users/walt/disable', { key: api.keys.operator });
  assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
  assert.equal((await web.request('GET', '/files/')).status, 303);
  assert.equal((await webSessions('walt')).length, before - 1);
  // Enabled again: that sign-in stays ended.
  assert.equal((await api.call('POST', '/api/users/walt/enable', { key: api.keys.operator })).status, 200);
  assert.equal((await web.request('GET', '/files/')).status, 303);
});
