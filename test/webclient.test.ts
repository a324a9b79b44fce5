// The /files web client over plain HTTP against a real server: sign-in, browsing, downloads, tus uploads, and attacks.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generate } from 'otplib';
import { setPassword } from '../src/auth/user-admin.js';
import type { FerryEvent } from '../src/events/types.js';
import { Secret } from '../src/util/secret.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { inlineCode, WebClient } from './helpers/web-client.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('web client /files', () => {
  let server: TestServer;
  let base: string;
  const events: FerryEvent[] = [];
  const clients: WebClient[] = [];
  const client = () => {
    const c = new WebClient(base);
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startTestServer();
    base = `http://127.0.0.1:${server.running.httpPort}`;
    server.running.context.events.subscribe((event) => {
      events.push(event);
    });
    await server.addUser('alice', { password: 'alice-pw-1', perms: ['/=*', '/ro=list,download'] });
    await server.addUser('bob', { password: 'bob-pw-1' });
    await server.addUser('dropper', { password: 'dropper-pw-1', perms: ['/=list,upload,overwrite'] });
    await server.addUser('keyonly', {
      publicKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl k'],
    });
    const aliceHome = await server.homeOf('alice');
    await mkdir(join(aliceHome, 'ro'), { recursive: true });
    await writeFile(join(aliceHome, 'ro', 'report.txt'), 'quarterly numbers\n');
    await writeFile(join(aliceHome, 'secret.txt'), 'alice only\n');
  });
  after(async () => {
    // Every page any client saw: a strict CSP header and not one inline script, style or handler.
    for (const c of clients)
      for (const { url, reply } of c.pages) {
        assert.match(reply.headers.get('content-security-policy') ?? '', /script-src 'self'/, url);
        assert.doesNotMatch(reply.headers.get('content-security-policy') ?? '', /unsafe-/, url);
        assert.deepEqual(inlineCode(reply.text), [], url);
      }
    await server.close();
  });

  test('the sign-in page and assets carry a strict CSP; the session cookie is HttpOnly, SameSite=Strict, /files', async () => {
    const web = client();
    const page = await web.request('GET', '/files/login');
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    for (const asset of ['/files/assets/files.js', '/files/assets/files.css']) {
      const reply = await web.request('GET', asset);
      assert.equal(reply.status, 200, asset);
      assert.ok(reply.headers.get('content-security-policy'));
    }
    assert.equal((await web.request('GET', '/files/assets/..%2f..%2fpackage.json')).status, 404);
    const form = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const response = await fetch(`${base}/files/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `ferry_files_login=${web.cookies.get('ferry_files_login')}`,
      },
      body: new URLSearchParams({ _csrf: form, username: 'alice', password: 'alice-pw-1' }).toString(),
    });
    assert.equal(response.status, 303);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('ferry_files='));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    assert.match(cookie, /Path=\/files/);
    // Plain HTTP here; over TLS the cookie is also Secure (secureCookies follows http.tlsCert).
    assert.doesNotMatch(cookie, /Secure/);
  });

  test('wrong passwords, unknown users and key-only users fail alike; a signed-out page redirects', async () => {
    const web = client();
    assert.equal((await web.request('GET', '/files/')).status, 303);
    const wrong = await web.login('alice', 'nope');
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /Wrong user name, password or one-time code/);
    const unknown = await web.login('nobody', 'nope');
    assert.equal(unknown.status, 401);
    assert.match(unknown.text, /Wrong user name, password or one-time code/);
    const keyOnly = await web.login('keyonly', 'whatever');
    assert.equal(keyOnly.status, 401);
    // The same page but for the form's fresh CSRF token: a key-only account is not told apart from a wrong password.
    const page = (text: string) => text.replace(/name="_csrf" value="[^"]*"/, '');
    assert.equal(page(keyOnly.text), page(wrong.text));
    // A forged or tampered cookie is no session.
    web.cookies.set('ferry_files', 'eyJ4IjoxfQ.AAAA');
    assert.equal((await web.request('GET', '/files/')).status, 303);
  });

  test('a session ends when its account is recreated, its password changes, or its address leaves the allowed networks', async () => {
    const users = server.running.context.store.users;
    const signIn = async () => {
      const web = client();
      assert.equal((await web.login('carol', 'carol-pw-1')).status, 303);
      assert.equal((await web.request('GET', '/files/')).status, 200);
      return web;
    };
    await server.addUser('carol', { password: 'carol-pw-1' });
    let web = await signIn();
    // Removed and created again under the same name and password: another account, the old cookie is out.
    await users.remove('carol');
    await server.addUser('carol', { password: 'carol-pw-1' });
    assert.equal((await web.request('GET', '/files/')).status, 303);
    web = await signIn();
    await setPassword(users, 'carol', new Secret('carol-pw-2'));
    assert.equal((await web.request('GET', '/files/')).status, 303);
    await setPassword(users, 'carol', new Secret('carol-pw-1'));
    web = await signIn();
    // Only 10.0.0.0/8 may sign in now, as over SSH: this 127.0.0.1 session ends with the next request.
    await users.update('carol', { allowedSources: ['10.0.0.0/8'] });
    assert.equal((await web.request('GET', '/files/')).status, 303);
    assert.equal((await web.createUpload('/', 'late.bin', 3)).status, 401);
  });

  test('a TOTP-enrolled user needs the one-time code too', async () => {
    await server.addUser('tina', { password: 'tina-pw-1', require: ['password', 'keyboard-interactive'] });
    const enrolment = await server.running.context.totp.enrol('tina');
    const web = client();
    const noCode = await web.login('tina', 'tina-pw-1');
    assert.equal(noCode.status, 401);
    assert.match(noCode.text, /one-time code/);
    assert.equal((await web.login('tina', 'tina-pw-1', '000000')).status, 401);
    const code = await generate({ secret: enrolment.secret.reveal() });
    assert.equal((await web.login('tina', 'tina-pw-1', code)).status, 303);
  });

  test('browse, download with ranges, SHA-256, mkdir, rename and delete through the core, audited as https', async () => {
    const web = client();
    assert.equal((await web.login('alice', 'alice-pw-1')).status, 303);
    const home = await web.request('GET', '/files/');
    assert.match(home.text, /secret\.txt/);
    assert.match(home.text, /ro\//);
    const sub = await web.request('GET', '/files/?path=%2Fro');
    assert.match(sub.text, /aria-current="page">ro</);
    assert.match(sub.text, /report\.txt/);

    const full = await web.request('GET', '/files/download?path=%2Fro%2Freport.txt');
    assert.equal(full.status, 200);
    assert.equal(full.text, 'quarterly numbers\n');
    assert.equal(full.headers.get('accept-ranges'), 'bytes');
    const part = await web.request('GET', '/files/download?path=%2Fro%2Freport.txt', {
      headers: { range: 'bytes=10-16' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.text, 'numbers');
    assert.equal(part.headers.get('content-range'), 'bytes 10-16/18');
    const beyond = await web.request('GET', '/files/download?path=%2Fro%2Freport.txt', {
      headers: { range: 'bytes=99-' },
    });
    assert.equal(beyond.status, 416);

    const digest = await web.request('GET', '/files/sha256?path=%2Fsecret.txt');
    assert.match(digest.text, new RegExp(sha256(Buffer.from('alice only\n'))));

    const made = await web.request('POST', '/files/mkdir', {
      form: { _csrf: web.csrf, dir: '/', name: 'inbox' },
    });
    assert.equal(made.status, 303);
    assert.ok(existsSync(join(await server.homeOf('alice'), 'inbox')));
    await web.request('POST', '/files/rename', { form: { _csrf: web.csrf, path: '/inbox', name: 'outbox' } });
    assert.ok(existsSync(join(await server.homeOf('alice'), 'outbox')));
    await web.request('POST', '/files/delete', { form: { _csrf: web.csrf, path: '/outbox' } });
    assert.ok(!existsSync(join(await server.homeOf('alice'), 'outbox')));

    // Per-folder permissions: /ro is list and download only.
    const refused = await web.request('POST', '/files/delete', {
      form: { _csrf: web.csrf, path: '/ro/report.txt' },
    });
    assert.match(decodeURIComponent(refused.headers.get('location') ?? ''), /error=Permission denied/);
    assert.ok(existsSync(join(await server.homeOf('alice'), 'ro', 'report.txt')));
    // The page the redirect leads to shows the server's own message; a crafted link's text (or the same
    // text with another session's or a made-up signature) is not shown.
    const shown = await web.request('GET', refused.headers.get('location') ?? '');
    assert.match(shown.text, /role="alert"[^>]*>[^<]*Permission denied/);
    const forged = await web.request(
      'GET',
      '/files/?path=%2F&notice=Your%20session%20expired%2C%20sign%20in%20at%20evil.example&sig=AAAAAAAAAAAAAAAAAAAAAA',
    );
    assert.equal(forged.status, 200);
    assert.doesNotMatch(forged.text, /evil\.example/);
    const reused = (refused.headers.get('location') ?? '').replace(
      /error=[^&]*/,
      'error=Sign%20in%20at%20evil.example',
    );
    assert.doesNotMatch((await web.request('GET', reused)).text, /evil\.example/);
    assert.equal((await web.createUpload('/ro', 'new.txt', 3)).status, 403);

    const mine = events.filter((e) => 'username' in e && e.username === 'alice' && 'protocol' in e);
    assert.ok(mine.length > 0);
    assert.ok(mine.every((e) => 'protocol' in e && e.protocol === 'https'));
    assert.ok(
      mine.some((e) => e.type === 'transfer' && e.direction === 'download' && e.path === '/ro/report.txt'),
    );
    assert.ok(mine.some((e) => e.type === 'file-op' && e.operation === 'mkdir'));
    // Each record carries the session id of the sign-in it belongs to (the accepted auth event's).
    const logins = new Set(
      events
        .filter((e) => e.type === 'session' && e.phase === 'auth' && e.username === 'alice')
        .map((e) => (e.type === 'session' && e.detail.result === 'accepted' ? e.sessionId : undefined)),
    );
    assert.ok(
      mine.every((e) => 'sessionId' in e && logins.has(e.sessionId) && e.sessionId.startsWith('web-')),
    );
  });

  test('a resumable upload is invisible until complete, resumes at the stored offset, and lands with its SHA-256', async () => {
    const web = client();
    await web.login('alice', 'alice-pw-1');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const created = await web.createUpload('/', 'big.bin', data.length);
    assert.equal(created.status, 201, created.text);
    const location = created.headers.get('location') ?? '';
    assert.match(location, /^\/files\/tus\//);
    const half = 1024 * 1024 + 5;
    assert.equal((await web.patch(location, 0, data.subarray(0, half))).status, 204);
    // Not complete: not in the listing, not downloadable, not on disk under its name.
    assert.doesNotMatch((await web.request('GET', '/files/')).text, /big\.bin/);
    assert.equal((await web.request('GET', '/files/download?path=%2Fbig.bin')).status, 404);
    assert.ok(!existsSync(join(await server.homeOf('alice'), 'big.bin')));
    // Another sign-in (a reload, another worker) learns the offset from the server and sends only the rest.
    const again = client();
    await again.login('alice', 'alice-pw-1');
    const head = await again.offsetOf(location);
    assert.equal(head.headers.get('upload-offset'), String(half));
    assert.equal((await again.patch(location, 0, data)).status, 409, 'a stale offset is refused');
    const done = await again.patch(location, half, data.subarray(half));
    assert.equal(done.status, 204, done.text);
    assert.equal(done.headers.get('upload-offset'), String(data.length));
    assert.equal(sha256(await readFile(join(await server.homeOf('alice'), 'big.bin'))), sha256(data));
    await server.running.context.audit.flush();
    const uploads = events.filter(
      (e) => e.type === 'transfer' && e.direction === 'upload' && e.path === '/big.bin',
    );
    const bytes = uploads.reduce((sum, e) => sum + (e.type === 'transfer' ? e.bytes : 0), 0);
    assert.equal(bytes, data.length, 'no byte was sent twice');
    // One record per PATCH (creating the upload stores and records nothing): the interrupted part and the rest.
    assert.deepEqual(
      uploads.map((e) => e.type === 'transfer' && [e.resumedFrom, e.bytes, e.completed]),
      [
        [0, half, false],
        [half, data.length - half, true],
      ],
    );
    const last = uploads.at(-1);
    assert.ok(
      last?.type === 'transfer' &&
        last.completed &&
        last.resumedFrom === half &&
        last.sha256 === sha256(data),
    );
  });

  test('a forged upload id cannot publish a partial unaudited, nor one bigger than the id declares', async () => {
    const web = client();
    await web.login('alice', 'alice-pw-1');
    const data = randomBytes(100);
    const forgedId = (size: number, path: string) =>
      `/files/tus/${size}.${Buffer.from(path, 'utf8').toString('base64url')}`;
    // A 50-byte partial of a 100-byte upload; an id declaring 30 bytes must not publish its 50.
    const created = await web.createUpload('/', 'forged.bin', 100);
    const location = created.headers.get('location') ?? '';
    assert.equal((await web.patch(location, 0, data.subarray(0, 50))).status, 204);
    const smaller = await web.patch(forgedId(30, '/forged.bin'), 30, Buffer.alloc(0));
    assert.equal(smaller.status, 400, smaller.text);
    assert.ok(!existsSync(join(await server.homeOf('alice'), 'forged.bin')));
    // An id declaring exactly the partial's size, and an empty PATCH at its end: published only with its record.
    const exact = await web.patch(forgedId(50, '/forged.bin'), 50, Buffer.alloc(0));
    await server.running.context.audit.flush();
    if (existsSync(join(await server.homeOf('alice'), 'forged.bin'))) {
      assert.equal(exact.status, 204, exact.text);
      const record = events.find(
        (e) => e.type === 'transfer' && e.direction === 'upload' && e.path === '/forged.bin' && e.completed,
      );
      assert.ok(
        record?.type === 'transfer' && record.sha256 === sha256(data.subarray(0, 50)),
        'audited with its SHA-256',
      );
    } else assert.notEqual(exact.status, 204);
  });

  test('in a drop box (no download) a new upload never resumes into a complete file of that name', async () => {
    const web = client();
    await web.login('dropper', 'dropper-pw-1');
    const target = join(await server.homeOf('dropper'), 'drop.bin');
    await writeFile(target, 'old content, complete');
    const created = await web.createUpload('/', 'drop.bin', 40);
    assert.equal(created.status, 409, created.text);
    // Nor through an id made up for it: no write into the complete file, at its end or anywhere.
    const id = `/files/tus/40.${Buffer.from('/drop.bin', 'utf8').toString('base64url')}`;
    for (const offset of [0, 21])
      assert.notEqual((await web.patch(id, offset, Buffer.alloc(19, 'x'))).status, 204);
    assert.equal(await readFile(target, 'utf8'), 'old content, complete');
    // A partial (no complete file yet) still resumes.
    const fresh = await web.createUpload('/', 'new.bin', 10);
    assert.equal(fresh.status, 201, fresh.text);
    const location = fresh.headers.get('location') ?? '';
    assert.equal((await web.patch(location, 0, Buffer.from('12345'))).status, 204);
    assert.equal((await web.offsetOf(location)).headers.get('upload-offset'), '5');
    assert.equal((await web.patch(location, 5, Buffer.from('67890'))).status, 204);
    assert.equal(await readFile(join(await server.homeOf('dropper'), 'new.bin'), 'utf8'), '1234567890');
  });

  test('another user cannot reach alice’s files by editing a URL or an upload id', async () => {
    const alice = client();
    await alice.login('alice', 'alice-pw-1');
    const created = await alice.createUpload('/', 'pending.bin', 100);
    const location = created.headers.get('location') ?? '';
    assert.equal((await alice.patch(location, 0, Buffer.alloc(50))).status, 204);

    const bob = client();
    await bob.login('bob', 'bob-pw-1');
    for (const path of [
      '/secret.txt',
      '/../alice/secret.txt',
      '../../alice/secret.txt',
      '/../../../etc/passwd',
    ])
      assert.equal(
        (await bob.request('GET', `/files/download?path=${encodeURIComponent(path)}`)).status,
        404,
        path,
      );
    assert.equal((await bob.request('GET', '/files/?path=%2F..%2Falice')).text.includes('secret.txt'), false);
    // Alice's upload id names a path in the home of whoever sends it: Bob sees his own (empty) home's state,
    // not Alice's 50 bytes, and cannot continue her upload.
    const head = await bob.offsetOf(location);
    assert.equal(head.headers.get('upload-offset'), '0');
    assert.equal((await bob.patch(location, 50, Buffer.alloc(50))).status, 409);
    assert.equal((await alice.offsetOf(location)).headers.get('upload-offset'), '50');
    assert.ok(!existsSync(join(await server.homeOf('bob'), 'pending.bin')));
    // Bob's session with Alice's CSRF token, and Alice's cookie with Bob's token: both refused.
    const swapped = await bob.request('POST', '/files/mkdir', {
      form: { _csrf: alice.csrf, dir: '/', name: 'x' },
    });
    assert.equal(swapped.status, 403);
    assert.equal((await alice.patch(location, 50, Buffer.alloc(50), bob.csrf)).status, 403);
    assert.ok(!existsSync(join(await server.homeOf('bob'), 'x')));
  });

  test('names with ../, NUL or the reserved partial prefix are refused; nothing is created', async () => {
    const web = client();
    await web.login('alice', 'alice-pw-1');
    for (const name of ['../escape.txt', 'a/b.txt', 'nul\0.txt', '.ferry-part.big.bin', '..', '.']) {
      const reply = await web.createUpload('/', name, 4);
      assert.equal(reply.status, 400, `${JSON.stringify(name)}: ${reply.text}`);
      const made = await web.request('POST', '/files/mkdir', { form: { _csrf: web.csrf, dir: '/', name } });
      assert.match(decodeURIComponent(made.headers.get('location') ?? ''), /error=/, name);
    }
    // A folder path that climbs stays in the home ('..' stops at '/').
    const climbed = await web.createUpload('/../../..', 'top.txt', 0);
    assert.equal(climbed.status, 201, climbed.text);
    assert.ok(existsSync(join(await server.homeOf('alice'), 'top.txt')));
    const renamed = await web.request('POST', '/files/rename', {
      form: { _csrf: web.csrf, path: '/top.txt', name: '.ferry-part.x' },
    });
    assert.match(decodeURIComponent(renamed.headers.get('location') ?? ''), /error=.*reserved/);
    assert.ok(existsSync(join(await server.homeOf('alice'), 'top.txt')));
    assert.ok(!existsSync(join(server.dataDir, 'homes', 'escape.txt')));
  });

  test('requests that change something without the CSRF token are refused, and change nothing', async () => {
    const web = client();
    await web.login('alice', 'alice-pw-1');
    const home = await server.homeOf('alice');
    assert.equal(
      (await web.request('POST', '/files/mkdir', { form: { dir: '/', name: 'csrf1' } })).status,
      403,
    );
    assert.equal((await web.request('POST', '/files/delete', { form: { path: '/secret.txt' } })).status, 403);
    assert.equal((await web.createUpload('/', 'csrf2.bin', 3, '')).status, 403);
    assert.equal((await web.request('POST', '/files/logout', { form: {} })).status, 403);
    assert.ok(!existsSync(join(home, 'csrf1')));
    assert.ok(existsSync(join(home, 'secret.txt')));
    // The login form too: without the token that matches its cookie, no sign-in.
    const fresh = client();
    const reply = await fresh.request('POST', '/files/login', {
      form: { username: 'alice', password: 'alice-pw-1' },
    });
    assert.equal(reply.status, 403);
    assert.equal(fresh.cookies.has('ferry_files'), false);
    // Logout with the token ends the browser's session.
    assert.equal((await web.request('POST', '/files/logout', { form: { _csrf: web.csrf } })).status, 303);
    assert.equal((await web.request('GET', '/files/')).status, 303);
  });
});
