// The admin console at /console, over HTTP as a browser without JavaScript uses it: sign-in, pages, forms with
// their CSRF field, roles (an auditor gets no edit controls and the API's refusal), sessions, audit, CSP.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cliActor } from '../src/admin/actor.js';
import { Secret } from '../src/util/secret.js';
import { holdSftp } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let base: string;

interface Page {
  readonly status: number;
  readonly location: string;
  readonly text: string;
  readonly headers: Headers;
}

/** A browser without JavaScript: keeps its cookie, follows nothing by itself. */
class Browser {
  cookie = '';
  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<Page> {
    const response = await fetch(`${base}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    const set = response.headers.get('set-cookie');
    if (set) {
      const m = /^(ferry_session=[^;]*)/.exec(set);
      if (m) this.cookie = m[1]!.endsWith('=') ? '' : m[1]!;
    }
    return {
      status: response.status,
      location: response.headers.get('location') ?? '',
      text: await response.text(),
      headers: response.headers,
    };
  }
  /** Follows one redirect, as a browser would. */
  async follow(page: Page): Promise<Page> {
    assert.equal(page.status, 303, page.text);
    return this.request('GET', page.location);
  }
  async signIn(name: string, password: string): Promise<Page> {
    return this.request('POST', '/console/login', { name, password });
  }
}

const csrfOf = (page: Page) => {
  const m = /name="_csrf" value="([^"]+)"/.exec(page.text);
  assert.ok(m, 'a CSRF field on the page');
  return m[1]!;
};

/** No inline script, event handler attribute, inline style or javascript: URL in a page. */
function assertNoInlineCode(page: Page) {
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.doesNotMatch(page.headers.get('content-security-policy') ?? '', /unsafe-(inline|eval)/);
  for (const tag of page.text.matchAll(/<script\b[^>]*>/g))
    assert.match(tag[0], /\ssrc="\/console\/assets\//);
  assert.doesNotMatch(page.text, /<script\b[^>]*>[^<]+<\/script>/);
  assert.doesNotMatch(page.text, /\son[a-z]+\s*=/i);
  assert.doesNotMatch(page.text, /\sstyle\s*=/i);
  assert.doesNotMatch(page.text, /<style\b/i);
  assert.doesNotMatch(page.text, /javascript:/i);
}

before(async () => {
  server = await startTestServer();
  base = `http://127.0.0.1:${server.running.httpPort}`;
  const access = server.running.context.admin.apiAccess;
  for (const [name, role] of [
    ['ada', 'admin'],
    ['olga', 'operator'],
    ['audrey', 'auditor'],
  ] as const)
    await access.addAdmin(cliActor(), { name, role, password: new Secret(`${name}-passphrase-1`) });
  await server.addUser('alice', { password: 'alice-password-1' });
});

after(async () => {
  await server?.close();
});

describe('admin console', () => {
  test('pages need a console session; the login page and assets are served with a strict CSP', async () => {
    const anon = new Browser();
    const dashboard = await anon.request('GET', '/console/');
    assert.equal(dashboard.status, 303);
    assert.equal(dashboard.location, '/console/login?ended=1');
    for (const path of [
      '/console/users',
      '/console/sessions',
      '/console/audit',
      '/console/defender',
      '/console/live',
    ])
      assert.equal((await anon.request('GET', path)).status, 303, path);
    const made = await anon.request('POST', '/console/users', {
      username: 'sneaky',
      password: 'x'.repeat(12),
    });
    assert.equal(made.status, 303);
    assert.equal(await server.running.context.store.users.findByName('sneaky'), undefined);
    const login = await anon.request('GET', '/console/login');
    assert.equal(login.status, 200);
    assertNoInlineCode(login);
    for (const asset of ['htmx.min.js', 'console.js', 'console.css'])
      assert.equal((await anon.request('GET', `/console/assets/${asset}`)).status, 200, asset);
    for (const bad of ['..%2Fpackage.json', 'constructor', 'files.js', 'sse.js'])
      assert.equal((await anon.request('GET', `/console/assets/${bad}`)).status, 404, bad);
  });

  test('a wrong password is one message and sets no cookie', async () => {
    const b = new Browser();
    const refused = await b.signIn('ada', 'wrong-password');
    assert.equal(refused.status, 401);
    assert.match(refused.text, /wrong name, password or one-time code/);
    assert.equal(b.cookie, '');
  });

  test('an admin signs in, creates, disables and removes a user through forms; the API records the actor', async () => {
    const b = new Browser();
    const signed = await b.signIn('ada', 'ada-passphrase-1');
    assert.equal(signed.status, 303);
    assert.equal(signed.location, '/console/');
    const dash = await b.request('GET', '/console/');
    assert.equal(dash.status, 200);
    assertNoInlineCode(dash);
    assert.match(dash.text, /live sessions/);
    assert.match(dash.text, /Transfers per hour/);
    assert.match(dash.text, /ada <span class="role">\(admin\)/);

    const users = await b.request('GET', '/console/users');
    assertNoInlineCode(users);
    assert.match(users.text, /Create a user/);
    const csrf = csrfOf(users);

    // Without the form's CSRF field the API refuses, and nothing is created.
    const forged = await b.follow(
      await b.request('POST', '/console/users', { username: 'bob', password: 'bob-password-1' }),
    );
    assert.match(forged.text, /role="alert">missing or wrong x-csrf-token header/);
    assert.equal(await server.running.context.store.users.findByName('bob'), undefined);

    const created = await b.follow(
      await b.request('POST', '/console/users', {
        _csrf: csrf,
        username: 'bob',
        password: 'bob-password-1',
        permissions: '/=list,download\n/in=*',
      }),
    );
    assert.match(created.text, /role="status">Created user bob\./);
    assert.match(created.text, /\/in=\*/);
    const bob = await server.running.context.store.users.findByName('bob');
    assert.ok(bob);

    // Bad input: the API's one-line message, nothing changed.
    const bad = await b.follow(
      await b.request('POST', '/console/users', { _csrf: csrf, username: 'bob', password: 'p' }),
    );
    assert.match(bad.text, /role="alert">[^<]*bob/);

    await b.follow(await b.request('POST', '/console/users/bob/disable', { _csrf: csrf }));
    assert.equal((await server.running.context.store.users.findByName('bob'))?.disabled, true);
    const searched = await b.request('GET', '/console/users?search=BO');
    assert.match(searched.text, /<td class="name"><a href="\/console\/users\/bob">bob<\/a><\/td>/);
    assert.doesNotMatch(searched.text, /<td class="name"><a href="\/console\/users\/alice">/);
    const removed = await b.follow(await b.request('POST', '/console/users/bob/remove', { _csrf: csrf }));
    assert.match(removed.text, /Removed bob\./);
    assert.equal(await server.running.context.store.users.findByName('bob'), undefined);

    // A crafted link's message is not shown.
    const spoof = await b.request(
      'GET',
      '/console/users?notice=Call%20evil.example&sig=AAAAAAAAAAAAAAAAAAAAAA',
    );
    assert.doesNotMatch(spoof.text, /evil\.example/);

    const audit = await b.request('GET', '/console/audit?action=admin');
    assert.match(audit.text, /console:ada/);
    assert.match(
      audit.text,
      /<p class="node">node [^<]+:\d+<\/p>/,
      'the serving node (host:port by default)',
    );
    const verified = await b.request('GET', '/console/audit/verify');
    assert.match(verified.text, /The chain verifies: \d+ records/);

    const out = await b.request('POST', '/console/logout', { _csrf: csrf });
    assert.equal(out.status, 303);
    assert.equal(out.location, '/console/login');
  });

  test('a stolen cookie is refused after logout', async () => {
    const b = new Browser();
    await b.signIn('olga', 'olga-passphrase-1');
    const stolen = b.cookie;
    const csrf = csrfOf(await b.request('GET', '/console/users'));
    await b.request('POST', '/console/logout', { _csrf: csrf });
    const thief = new Browser();
    thief.cookie = stolen;
    assert.equal((await thief.request('GET', '/console/users')).status, 303);
  });

  test('an auditor reads but gets no edit controls, and the API refuses a forged change', async () => {
    const b = new Browser();
    await b.signIn('audrey', 'audrey-passphrase-1');
    const users = await b.request('GET', '/console/users');
    assert.equal(users.status, 200);
    // An auditor's role does not include users:read: the API's refusal is the page's message.
    assert.match(users.text, /role="alert">role auditor may not users read/);
    assert.doesNotMatch(users.text, /Create a user/);
    const csrf = csrfOf(users);
    const forged = await b.follow(
      await b.request('POST', '/console/users', {
        _csrf: csrf,
        username: 'eve',
        password: 'eve-password-12',
      }),
    );
    assert.match(forged.text, /role="alert">role auditor may not users write/);
    assert.equal(await server.running.context.store.users.findByName('eve'), undefined);
    const audit = await b.request('GET', '/console/audit');
    assert.equal(audit.status, 200);
    assert.match(audit.text, /<table class="list audit">/);
    const sessions = await b.request('GET', '/console/sessions');
    assert.doesNotMatch(sessions.text, /<button[^>]*>End</);
  });

  test('an operator sees a live OpenSSH session and ends it', async () => {
    const held = holdSftp(server.port, 'alice', 'alice-password-1');
    try {
      const b = new Browser();
      await b.signIn('olga', 'olga-passphrase-1');
      let page: Page | undefined;
      for (let i = 0; i < 100; i++) {
        page = await b.request('GET', '/console/sessions');
        if (page.text.includes('<td>alice</td>')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(page);
      assert.match(page.text, /<td>alice<\/td><td>127\.0\.0\.1<\/td>/);
      const id = /action="\/console\/sessions\/([^/]+)\/kill"/.exec(page.text)?.[1];
      assert.ok(id);
      const ended = await b.follow(
        await b.request('POST', `/console/sessions/${id}/kill`, { _csrf: csrfOf(page) }),
      );
      assert.match(ended.text, /Ended the session of alice\./);
      // sftp waits on its standard input; its next command meets the closed connection.
      held.child.stdin?.write('ls\n');
      const { code } = await held.exited;
      assert.notEqual(code, 0, 'the sftp client saw its connection end');
      const live = await b.request('GET', '/console/live');
      assert.match(live.text, /class="value">0<\/span><span class="label">live sessions/);
    } finally {
      held.child.kill();
    }
  });
});
