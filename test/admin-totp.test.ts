// The first start's API administrator and TOTP for administrator accounts, as a user meets them: `ferry serve`
// on a fresh data dir, `ferry admins totp …`, and POST /api/login over real HTTP with codes computed here
// (test/helpers/rfc6238.ts), not by Ferry.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { type Serving, serveFerry } from './helpers/ferry-serve.js';
import { hotp, totp, totpStep } from './helpers/rfc6238.js';

let dir: string;
let dataDir: string;
const children: ChildProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-admin-totp-'));
  dataDir = join(dir, 'data');
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the independent RFC 6238 helper gives the RFC test vector', () => {
  // RFC 6238 appendix B, SHA-1 key "12345678901234567890", T = 59 s: 94287082 (its last 6 digits).
  assert.equal(hotp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', totpStep(59_000)), '287082');
});

describe('admin accounts: first start and TOTP at console login', () => {
  let serving: Serving;
  let api = '';
  let firstPassword = '';

  const login = async (body: Record<string, string>) => {
    const res = await fetch(`${api}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      cookie: res.headers.get('set-cookie') ?? '',
      body: (await res.json()) as Record<string, string>,
    };
  };
  const refused = (r: Awaited<ReturnType<typeof login>>, why: string) => {
    assert.equal(r.status, 401, `${why}: ${JSON.stringify(r.body)}`);
    assert.match(r.type, /^application\/problem\+json/);
    assert.equal(r.body.code, 'ERR_UNAUTHENTICATED');
    assert.equal(r.body.detail, 'wrong name, password or one-time code');
    assert.equal(r.cookie, '', `${why}: no session cookie`);
  };
  const defenderScore = async () => {
    const listed = await runFerry(['defender', 'list', '--json', '--data-dir', dataDir]);
    assert.equal(listed.code, 0, listed.stderr);
    const hosts = JSON.parse(listed.stdout) as { address: string; score: number }[];
    return hosts.find((h) => h.address === '127.0.0.1')?.score ?? 0;
  };

  test('the first ferry serve creates the API administrator admin and prints its password once', async () => {
    const started = await serveFerry(
      dataDir,
      children,
      ['--http-listen', '127.0.0.1:0'],
      /created API administrator 'admin' \(role admin\) with one-time password: (\S+)\n[\s\S]*HTTP API listening on (http:\/\/127\.0\.0\.1:\d+)\/api/,
    );
    serving = started.serving;
    firstPassword = started.match[1]!;
    api = started.match[2]!;
    const list = await runFerry(['admins', 'list', '--json', '--data-dir', dataDir]);
    assert.deepEqual(
      JSON.parse(list.stdout).map((a: { name: string; role: string }) => `${a.name}:${a.role}`),
      ['admin:admin'],
    );
    const ok = await login({ name: 'admin', password: firstPassword });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.role, 'admin');
    assert.match(ok.cookie, /ferry_session=/);
    assert.equal(serving.stderr().includes(firstPassword), false, 'the password is not logged');
  });

  test('admins totp enable: QR, URI and recovery codes; login then needs a current code, each accepted once', async () => {
    const before = await login({ name: 'admin', password: firstPassword });
    const cookie = before.cookie.split(';')[0]!;
    const enabled = await runFerry(['admins', 'totp', 'enable', 'admin', '--data-dir', dataDir]);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, /[▀▄█]/, 'a QR code drawn in the terminal');
    const secret = enabled.stdout.match(/otpauth:\/\/totp\/[^\s]*secret=([A-Z2-7]+)/)?.[1];
    assert.ok(secret, enabled.stdout);
    assert.match(enabled.stdout, /Console login \(POST \/api\/login\) of admin now needs "code"/);
    const recovery = [...enabled.stdout.matchAll(/^ {2}([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})$/gm)].map(
      (m) => m[1]!,
    );
    assert.equal(recovery.length, 10);

    // The session opened with the password alone ends.
    const session = await fetch(`${api}/api/session`, { headers: { cookie } });
    assert.equal(session.status, 401);

    const scoreBefore = await defenderScore();
    refused(await login({ name: 'admin', password: firstPassword }), 'no code');
    const step = totpStep();
    const near = new Set([step - 1, step, step + 1].map((s) => hotp(secret, s)));
    let wrong = totp(secret);
    while (near.has(wrong)) wrong = String((Number(wrong) + 1) % 1_000_000).padStart(6, '0');
    refused(await login({ name: 'admin', password: firstPassword, code: wrong }), 'wrong code');
    refused(
      await login({ name: 'admin', password: 'not-the-password', code: totp(secret) }),
      'wrong password',
    );
    refused(await login({ name: 'admin', password: firstPassword, code: 'x'.repeat(6) }), 'not a code');
    assert.equal(await defenderScore(), scoreBefore + 4, 'each failure scored like a wrong password');

    // A wrong password did not spend the code: with the password it opens a session, once.
    const code = totp(secret);
    const ok = await login({ name: 'admin', password: firstPassword, code });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(ok.cookie, /ferry_session=/);
    refused(await login({ name: 'admin', password: firstPassword, code }), 'replayed code');

    // A recovery code instead of a code, once.
    const rescued = await login({ name: 'admin', password: firstPassword, code: recovery[3]! });
    assert.equal(rescued.status, 200, JSON.stringify(rescued.body));
    refused(
      await login({ name: 'admin', password: firstPassword, code: recovery[3]! }),
      'spent recovery code',
    );

    const audit = await runFerry(['audit', 'query', '--action', 'admin', '--json', '--data-dir', dataDir]);
    assert.match(audit.stdout, /admins totp enable/);
    assert.equal(audit.stdout.includes(secret), false, 'the secret is never recorded');
  });

  test('API keys need no code: they are for scripts, issued only by an administrator, and revocable', async () => {
    const added = await runFerry(['apikeys', 'add', 'deploy', '--role', 'admin', '--data-dir', dataDir]);
    assert.equal(added.code, 0, added.stderr);
    const key = added.stdout.trim().split('\n').at(-1)!;
    const res = await fetch(`${api}/api/admins`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
  });

  test('admins totp disable: the password alone logs in again; bad names are refused in one line', async () => {
    const disabled = await runFerry(['admins', 'totp', 'disable', 'admin', '--data-dir', dataDir]);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.match(
      disabled.stdout,
      /^one-time codes disabled for admin; console login needs the password only$/m,
    );
    const ok = await login({ name: 'admin', password: firstPassword });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const again = await runFerry(['admins', 'totp', 'disable', 'admin', '--data-dir', dataDir]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'ferry: admin has no TOTP secret\n');
    const ghost = await runFerry(['admins', 'totp', 'enable', 'ghost', '--data-dir', dataDir]);
    assert.equal(ghost.code, 1);
    assert.equal(ghost.stderr, 'ferry: no admin named ghost\n');
    assert.equal(ghost.stdout, '');
  });

  test('a second start creates no administrator and prints no password', async () => {
    await serving.stop();
    const removed = await runFerry(['admins', 'remove', 'admin', '--data-dir', dataDir]);
    assert.equal(removed.code, 0, removed.stderr);
    const again = await serveFerry(dataDir, children, ['--http-listen', '127.0.0.1:0'], /HTTP API listening/);
    serving = again.serving;
    const list = await runFerry(['admins', 'list', '--json', '--data-dir', dataDir]);
    assert.deepEqual(JSON.parse(list.stdout), [], 'removing every account is not undone by a restart');
    await serving.stop();
  });
});
