// The console's keys, administrators, API keys, TOTP enrolment and status pages over real HTTP, as a browser
// without JavaScript uses them: happy paths, roles (operator, auditor), forged posts without the CSRF field, the
// API key shown once, hostile names escaped, and the CSP scan of every page.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { assertNoInlineCode, ConsoleBrowser, csrfOf, type Page } from './helpers/console-http.js';
import { hotp, totpStep } from './helpers/rfc6238.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let base: string;
const browser = () => new ConsoleBrowser(base);

before(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.running.httpPort}`;
  const access = server.running.context.admin.apiAccess;
  for (const [name, role] of [
    ['ada', 'admin'],
    ['tina', 'admin'],
    ['olga', 'operator'],
    ['audrey', 'auditor'],
  ] as const)
    await access.addAdmin(cliActor(), { name, role, password: new Secret(`${name}-passphrase-1`) });
  await server.addUser('alice', { password: 'alice-password-1' });
});

after(async () => {
  await server?.close();
});

async function signedIn(name: string): Promise<ConsoleBrowser> {
  const b = browser();
  assert.equal((await b.signIn(name, `${name}-passphrase-1`)).status, 303);
  return b;
}

const secretOf = (page: Page) => {
  const m = /id="totp-secret">([A-Z2-7]{32,})</.exec(page.text);
  assert.ok(m, 'the secret as text next to the QR code');
  return m[1]!;
};

describe('keys page', () => {
  test('an admin generates, retires and lists host keys, client, OpenPGP keys and certificates; no private half is shown', async () => {
    const b = await signedIn('ada');
    const page = await b.request('GET', '/console/keys');
    assert.equal(page.status, 200);
    assertNoInlineCode(page);
    const csrf = csrfOf(page);
    const hostKeys = () => server.running.context.store.hostKeys.list();
    const before = (await hostKeys()).length;

    const forged = await b.submit('/console/keys/host', { type: 'ed25519' });
    assert.match(forged.text, /role="alert">missing or wrong x-csrf-token header/);
    assert.equal((await hostKeys()).length, before, 'nothing generated without the CSRF field');

    const made = await b.submit('/console/keys/host', { _csrf: csrf, type: 'ed25519', bits: '' });
    assert.match(made.text, /role="status">Generated host key SHA256:[^<]+ \(pending\)/);
    const pending = (await hostKeys()).find((k) => k.state === 'pending');
    assert.ok(pending);
    assert.match(made.text, new RegExp(`action="/console/keys/host/${pending.id}/retire" class="confirm"`));
    const retired = await b.submit(`/console/keys/host/${pending.id}/retire`, { _csrf: csrf });
    assert.match(retired.text, new RegExp(`Retired host key ${pending.id}\\.`));
    assert.equal((await hostKeys()).find((k) => k.id === pending.id)?.state, 'retired');

    const bad = await b.submit('/console/keys/host', { _csrf: csrf, type: 'dsa' });
    assert.match(bad.text, /role="alert">[^<]*type/);

    await b.submit('/console/keys/client', { _csrf: csrf, name: 'acme-key', type: 'ed25519' });
    // A hostile user id is refused; the refusal is text, not markup.
    const hostile = await b.submit('/console/keys/pgp', {
      _csrf: csrf,
      name: 'vault',
      email: 'ferry@example.com',
      userName: '<script>alert(1)</script>',
    });
    assert.match(hostile.text, /role="alert">[^<]*&lt;/);
    assert.doesNotMatch(hostile.text, /<script>alert/);
    const pgp = await b.submit('/console/keys/pgp', {
      _csrf: csrf,
      name: 'vault',
      email: 'ferry@example.com',
      userName: 'Ferry & Co',
    });
    assert.match(pgp.text, /Generated OpenPGP key vault\./);
    assert.match(pgp.text, /<td>Ferry &amp; Co &lt;ferry@example\.com&gt;<\/td>/);
    const cert = await b.submit('/console/keys/x509', {
      _csrf: csrf,
      name: 'api',
      cn: `<b>x</b>"'`,
      san: 'DNS:ferry.example.com',
    });
    assert.match(cert.text, /Generated certificate api\./);
    assertNoInlineCode(cert);
    assert.match(cert.text, /CN=\\?&lt;b\\?&gt;x/);
    assert.doesNotMatch(cert.text, /<b>x/);
    assert.doesNotMatch(cert.text, /PRIVATE KEY/);
    assert.match(cert.text, /<td class="name">acme-key<\/td>/);

    const asc = await b.request('GET', '/console/keys/pgp/vault/public.asc');
    assert.equal(asc.status, 200);
    assert.match(asc.headers.get('content-disposition') ?? '', /attachment; filename="vault\.asc"/);
    assert.match(asc.text, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    assert.doesNotMatch(asc.text, /PRIVATE/);
    const chain = await b.request('GET', '/console/keys/x509/api/chain.pem');
    assert.match(chain.text, /^-----BEGIN CERTIFICATE-----/);
    assert.equal((await b.request('GET', '/console/keys/pgp/nothere/public.asc')).status, 404);

    const gone = await b.submit('/console/keys/x509/api/remove', { _csrf: csrf });
    assert.match(gone.text, /Deleted certificate api\./);
    await b.submit('/console/keys/pgp/vault/remove', { _csrf: csrf });
    assert.deepEqual(await server.running.context.store.pgpKeys.list(), []);
  });

  test('an operator manages client keys only; the API refuses a forged host key', async () => {
    const b = await signedIn('olga');
    const page = await b.request('GET', '/console/keys');
    assert.match(page.text, /Generate a client key/);
    assert.doesNotMatch(
      page.text,
      /Generate a host key|Import a host key|Generate an OpenPGP key|self-signed/,
    );
    const before = (await server.running.context.store.hostKeys.list()).length;
    const forged = await b.submit('/console/keys/host', { _csrf: csrfOf(page), type: 'ed25519' });
    assert.match(forged.text, /role="alert">role operator may not keys write/);
    assert.equal((await server.running.context.store.hostKeys.list()).length, before);
  });

  test('an auditor reads certificates only and gets no key forms', async () => {
    const b = await signedIn('audrey');
    const page = await b.request('GET', '/console/keys');
    assert.equal(page.status, 200);
    assertNoInlineCode(page);
    assert.match(page.text, /role="alert">role auditor may not keys read/);
    assert.doesNotMatch(page.text, /<details class="create">/);
    assert.doesNotMatch(page.text, /<button[^>]*>(Retire|Delete|Promote)</);
    const forged = await b.submit('/console/keys/client', {
      _csrf: csrfOf(page),
      name: 'x',
      type: 'ed25519',
    });
    assert.match(forged.text, /role="alert">role auditor may not clientkeys write/);
  });
});

describe('administrators and API keys', () => {
  test('an admin adds an administrator, sets their role and removes them; hostile names are refused and escaped', async () => {
    const b = await signedIn('ada');
    const page = await b.request('GET', '/console/admins');
    assertNoInlineCode(page);
    const csrf = csrfOf(page);
    const admins = server.running.context.store.apiAdmins;

    const forged = await b.submit('/console/admins', {
      name: 'eve',
      role: 'admin',
      password: 'eve-passphrase-1',
    });
    assert.match(forged.text, /missing or wrong x-csrf-token header/);
    assert.equal(await admins.get('eve'), undefined);

    const added = await b.submit('/console/admins', {
      _csrf: csrf,
      name: 'carol',
      role: 'auditor',
      password: 'carol-passphrase-1',
    });
    assert.match(added.text, /Added administrator carol \(auditor\)\./);
    const promoted = await b.submit('/console/admins/carol/role', { _csrf: csrf, role: 'operator' });
    assert.match(promoted.text, /carol is now operator\./);
    assert.equal((await admins.get('carol'))?.role, 'operator');
    // The new role holds from carol's next request on.
    const carol = browser();
    await carol.signIn('carol', 'carol-passphrase-1');
    assert.match((await carol.request('GET', '/console/users')).text, /Create a user/);

    const hostile = await b.submit('/console/admins', {
      _csrf: csrf,
      name: '<script>alert(1)</script>',
      role: 'admin',
      password: 'x-passphrase-12',
    });
    assert.match(hostile.text, /role="alert">/);
    assert.doesNotMatch(hostile.text, /<script>alert/);
    assertNoInlineCode(hostile);

    const removed = await b.submit('/console/admins/carol/remove', { _csrf: csrf });
    assert.match(removed.text, /Removed administrator carol\./);
    assert.equal(await admins.get('carol'), undefined);
    assert.equal((await carol.request('GET', '/console/users')).status, 303, 'their session ended with them');
  });

  test('an API key is shown once, works with a bearer header, shows its last use, and is refused once revoked', async () => {
    const b = await signedIn('ada');
    const list = await b.request('GET', '/console/apikeys');
    assertNoInlineCode(list);
    const csrf = csrfOf(list);
    const issued = await b.request('POST', '/console/apikeys', {
      _csrf: csrf,
      name: 'nightly',
      role: 'auditor',
    });
    assert.equal(issued.status, 200);
    assertNoInlineCode(issued);
    const key = /value="(ferry_[A-Za-z0-9_-]{43})"/.exec(issued.text)?.[1];
    assert.ok(key, 'the key on the answer page');

    const status = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(status.status, 200);
    const after = await b.request('GET', '/console/apikeys');
    assert.doesNotMatch(after.text, new RegExp(key), 'never shown again');
    assert.match(after.text, new RegExp(`<td class="mono">${key.slice(0, 12)}…</td>`));
    assert.match(
      after.text,
      /<td class="name">nightly<\/td><td>auditor<\/td>(.|\n)*?<td>never<\/td><td>\d{4}-\d\d-\d\d \d\d:\d\d<\/td>/,
    );

    const forged = await b.submit('/console/apikeys/nightly/revoke', {});
    assert.match(forged.text, /missing or wrong x-csrf-token header/);
    const revoked = await b.submit('/console/apikeys/nightly/revoke', { _csrf: csrf });
    assert.match(revoked.text, /Revoked API key nightly\./);
    const refused = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(refused.status, 401);
  });

  test('an operator and an auditor get the API refusal and no forms on both pages', async () => {
    for (const [name, role] of [
      ['olga', 'operator'],
      ['audrey', 'auditor'],
    ] as const) {
      const b = await signedIn(name);
      for (const path of ['/console/admins', '/console/apikeys']) {
        const page = await b.request('GET', path);
        assert.equal(page.status, 200);
        assert.match(page.text, new RegExp(`role="alert">role ${role} may not access manage`));
        assert.doesNotMatch(page.text, /<details class="create">/);
      }
      const csrf = csrfOf(await b.request('GET', '/console/apikeys'));
      const forged = await b.submit('/console/apikeys', { _csrf: csrf, name: `mine-${name}`, role: 'admin' });
      assert.match(forged.text, new RegExp(`role ${role} may not access manage`));
      const role2 = await b.submit('/console/admins/ada/role', { _csrf: csrf, role: 'auditor' });
      assert.match(role2.text, new RegExp(`role ${role} may not access manage`));
    }
    assert.deepEqual(
      (await server.running.context.store.apiKeys.list()).filter((k) => k.name.startsWith('mine-')),
      [],
    );
    assert.equal((await server.running.context.store.apiAdmins.get('ada'))?.role, 'admin');
  });
});

describe('TOTP enrolment', () => {
  test('an admin enrols their own TOTP with a QR code and a current code, then needs a code to sign in', async () => {
    const b = await signedIn('tina');
    const start = await b.request('GET', '/console/totp');
    assertNoInlineCode(start);
    const csrf = csrfOf(start);
    const forged = await b.request('POST', '/console/totp/draft', {});
    assert.equal(forged.status, 303, 'no draft without the CSRF field');
    const draft = await b.request('POST', '/console/totp/draft', { _csrf: csrf });
    assert.equal(draft.status, 200);
    assertNoInlineCode(draft);
    assert.match(
      draft.text,
      /<svg class="qr" role="img" aria-label="QR code of the TOTP secret for tina" xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
    const secret = secretOf(draft);
    const totp = server.running.context.store.apiAdminTotp;
    assert.equal(await totp.getTotp('tina'), undefined, 'nothing stored by the draft');

    const wrongCode = await b.request('POST', '/console/totp/confirm', {
      _csrf: csrf,
      secret,
      uri: 'otpauth://totp/x',
      password: 'tina-passphrase-1',
      code: hotp(secret, totpStep() + 5),
    });
    assert.equal(wrongCode.status, 400);
    assert.match(wrongCode.text, /role="alert">the code does not match the secret/);
    assert.equal(secretOf(wrongCode), secret, 'the same draft again');
    const wrongPassword = await b.request('POST', '/console/totp/confirm', {
      _csrf: csrf,
      secret,
      password: 'not-her-password',
      code: hotp(secret, totpStep()),
    });
    assert.match(wrongPassword.text, /role="alert">wrong password/);
    assert.equal(await totp.getTotp('tina'), undefined);

    // The confirming code's step, kept: a 30 s boundary crossed before the sign-ins below must not turn
    // "the same code again" into the next step's fresh code.
    const confirmStep = totpStep();
    const done = await b.request('POST', '/console/totp/confirm', {
      _csrf: csrf,
      secret,
      password: 'tina-passphrase-1',
      code: hotp(secret, confirmStep),
    });
    assert.equal(done.status, 200, done.text);
    assert.match(done.text, /TOTP is on for tina\./);
    assert.equal(done.text.match(/<li><code>[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}<\/code><\/li>/g)?.length, 10);
    assert.ok(await totp.getTotp('tina'));
    assert.equal((await b.request('GET', '/console/')).status, 303, 'the session ended');

    const again = browser();
    assert.equal((await again.signIn('tina', 'tina-passphrase-1')).status, 401, 'the password alone');
    assert.equal(
      (await again.signIn('tina', 'tina-passphrase-1', hotp(secret, confirmStep))).status,
      401,
      'the confirming code is spent',
    );
    assert.equal(
      (await again.signIn('tina', 'tina-passphrase-1', hotp(secret, confirmStep + 1))).status,
      303,
    );
  });

  test("an operator enrols an SFTP user's TOTP from the users page; an auditor cannot", async () => {
    const b = await signedIn('olga');
    const users = await b.request('GET', '/console/users');
    assert.match(users.text, /<a href="\/console\/users\/alice\/totp">TOTP<\/a>/);
    const csrf = csrfOf(users);
    const draft = await b.request('POST', '/console/users/alice/totp/draft', { _csrf: csrf });
    assertNoInlineCode(draft);
    const secret = secretOf(draft);
    assert.doesNotMatch(draft.text, /Your password/);
    const done = await b.request('POST', '/console/users/alice/totp/confirm', {
      _csrf: csrf,
      secret,
      code: hotp(secret, totpStep()),
    });
    assert.match(done.text, /TOTP is on for alice\./);
    const alice = await server.running.context.store.users.findByName('alice');
    assert.deepEqual(alice?.requiredMethods, ['password', 'keyboard-interactive']);
    const removed = await b.submit('/console/users/alice/totp/remove', { _csrf: csrf });
    assert.match(removed.text, /Removed the TOTP secret of alice\./);
    assert.deepEqual((await server.running.context.store.users.findByName('alice'))?.requiredMethods, []);

    const auditor = await signedIn('audrey');
    const readOnly = await auditor.request('GET', '/console/users/alice/totp');
    assert.doesNotMatch(readOnly.text, /<button[^>]*>(Show a new QR code|Remove TOTP)</);
    const refused = await auditor.submit('/console/users/alice/totp/draft', { _csrf: csrfOf(readOnly) });
    assert.match(refused.text, /role="alert">role auditor may not users write/);
  });

  test('the API: a draft changes nothing, an API key has no session TOTP, a role is set with PATCH', async () => {
    const { key } = await server.running.context.admin.apiAccess.addKey(cliActor(), {
      name: 'ops',
      role: 'admin',
    });
    const auth = { authorization: `Bearer ${key.reveal()}`, 'content-type': 'application/json' };
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method,
        headers: auth,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const draft = await call('POST', '/api/users/alice/totp/draft', {});
    assert.equal(draft.status, 200);
    const { secret, uri } = (await draft.json()) as { secret: string; uri: string };
    assert.match(uri, new RegExp(`^otpauth://totp/.*secret=${secret}`));
    assert.equal(await server.running.context.store.accounts.getTotp('alice'), undefined);
    const weak = await call('POST', '/api/users/alice/totp', { secret: 'A'.repeat(32), code: '000000' });
    assert.equal(weak.status, 400);
    assert.equal((await call('POST', '/api/session/totp/draft', {})).status, 400);
    assert.equal((await call('PATCH', '/api/admins/audrey', { role: 'root' })).status, 400);
    assert.equal((await call('PATCH', '/api/admins/nobody', { role: 'auditor' })).status, 404);
    const patched = await call('PATCH', '/api/admins/audrey', { role: 'auditor' });
    assert.deepEqual(((await patched.json()) as { role: string }).role, 'auditor');
  });
});

describe('status page', () => {
  test('version, uptime, listeners, store, disk, readiness and nodes; an auditor sees it too', async () => {
    for (const name of ['ada', 'audrey']) {
      const b = await signedIn(name);
      const page = await b.request('GET', '/console/status');
      assert.equal(page.status, 200);
      assertNoInlineCode(page);
      assert.match(page.text, /<dt>Version<\/dt><dd>\d+\.\d+\.\d+/);
      assert.match(page.text, /\(\d+ min\), process \d+/);
      assert.match(page.text, new RegExp(`sftp 127\\.0\\.0\\.1:${server.port}`));
      assert.match(page.text, /<dt>Store<\/dt><dd>sqlite <span class="badge on">reachable/);
      assert.match(page.text, /free \(\d+\.\d %\)/);
      assert.match(page.text, /<td>audit trail writable<\/td><td><span class="badge on">ok/);
      assert.match(page.text, /No cluster nodes are registered|<th>Node<\/th>/);
    }
    assert.equal((await browser().request('GET', '/console/status')).status, 303);
  });
});
