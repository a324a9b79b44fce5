// Account expiry with real OpenSSH: `ferry users set --expires` refuses logins after that day (UTC), audited with
// the reason; 'never' lifts it; a bad date changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isExpired } from '../src/auth/authenticator.js';
import type { FerryEvent } from '../src/events/types.js';
import { runFerry } from './helpers/cli.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'expiry-pw-2718';
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);

describe('account expiry', () => {
  let server: TestServer;
  const events: FerryEvent[] = [];
  const login = (user: string) => sftpBatch({ port: server.port, user, password: PW, batch: 'pwd\n' });
  const setExpires = (user: string, value: string) =>
    runFerry(['users', 'set', user, '--expires', value, '--data-dir', server.dataDir]);

  before(async () => {
    server = await startTestServer();
    server.running.context.events.subscribe((e) => {
      events.push(e);
    });
    await server.addUser('gone', { password: PW });
    await server.addUser('lastday', { password: PW });
  });

  after(async () => {
    await server?.close();
  });

  test('the day is inclusive, in UTC', () => {
    assert.equal(isExpired('2026-03-01', new Date('2026-03-01T23:59:59Z')), false);
    assert.equal(isExpired('2026-03-01', new Date('2026-03-02T00:00:00Z')), true);
    assert.equal(isExpired(null, new Date()), false);
  });

  test('a login after the expiry day is refused, with an audit record and an event naming the reason', async () => {
    const set = await setExpires('gone', day(-1));
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, new RegExp(`^expires: {5}after ${day(-1)} \\(UTC\\)$`, 'm'));
    assert.equal((await setExpires('lastday', day(0))).code, 0);

    const from = events.length;
    const refused = await login('gone');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Permission denied/);
    assert.ok(
      events
        .slice(from)
        .some((e) => e.type === 'session' && e.phase === 'auth' && e.detail.result === 'account expired'),
      'an auth event with the reason',
    );
    // The audit writer commits in batches: the record lands within moments.
    let recorded = false;
    for (let i = 0; i < 50 && !recorded; i++) {
      const audit = await server.running.context.store.audit.page({ actions: ['auth'], limit: 100 });
      recorded = audit.some((entry) => entry.user === 'gone' && entry.reason === 'account expired');
      if (!recorded) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(recorded, 'an audit record with the reason');

    const allowed = await login('lastday');
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  test("'never' lifts the expiry; a date that is not one is refused in one line and changes nothing", async () => {
    const bad = await setExpires('gone', '2026-02-30');
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /expires/);
    assert.equal((await server.running.context.store.users.findByName('gone'))?.expiresOn, day(-1));

    assert.equal((await setExpires('gone', 'never')).code, 0);
    const show = await runFerry(['users', 'show', 'gone', '--data-dir', server.dataDir]);
    assert.match(show.stdout, /^expires: {5}never$/m);
    assert.equal((await login('gone')).code, 0);
  });
});
