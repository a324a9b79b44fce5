// GET /api/partners/{name}/hostkey: what a real OpenSSH sshd presents now, compared with the pinned key; nothing
// is trusted or changed by asking.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiTestServer, assertProblem, type Json, startApiTestServer } from './helpers/api.js';
import { makeClientKey } from './helpers/openssh.js';
import { type OpenSshServer, startOpenSshServer } from './helpers/openssh-server.js';

let api: ApiTestServer;
let sshd: OpenSshServer;
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-hostkey-'));
  const key = await makeClientKey(work, 'ed25519');
  sshd = await startOpenSshServer({ authorizedKeys: key.publicText });
  api = await startApiTestServer();
});

after(async () => {
  await api?.close();
  await sshd?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('the host key sshd presents is shown with whether it matches the pinned one, and only pinning trusts it', async () => {
  const added = await api.call('POST', '/api/partners', {
    key: api.keys.operator,
    body: { name: 'acme', host: '127.0.0.1', port: sshd.port, user: sshd.user, password: 'unused-pw' },
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const before = (await api.adminRecords()).length;

  const fetched = await api.call('GET', '/api/partners/acme/hostkey', { key: api.keys.operator });
  assert.equal(fetched.status, 200, JSON.stringify(fetched.body));
  assert.deepEqual(fetched.body, {
    algorithm: 'ssh-ed25519',
    sha256: sshd.hostKeySha256,
    pinned: null,
    matches: false,
  });
  // Asking trusts nothing and records no change.
  assert.equal((await api.call('GET', '/api/partners/acme', { key: api.keys.operator })).body.hostKey, null);
  assert.equal((await api.adminRecords()).length, before);

  const pinned = await api.call('POST', '/api/partners/acme/trust', {
    key: api.keys.admin,
    body: { algorithm: fetched.body.algorithm, sha256: fetched.body.sha256 },
  });
  assert.equal(pinned.status, 200, JSON.stringify(pinned.body));
  const again = await api.call('GET', '/api/partners/acme/hostkey', { key: api.keys.admin });
  assert.deepEqual([again.body.pinned, again.body.matches], [sshd.hostKeySha256, true]);

  // Roles per PERMISSIONS (partners:read): admin and operator may, an auditor may not.
  assertProblem(
    await api.call('GET', '/api/partners/acme/hostkey', { key: api.keys.auditor }),
    403,
    'ERR_PERMISSION_DENIED',
  );
  assertProblem(await api.call('GET', '/api/partners/acme/hostkey', {}), 401, 'ERR_UNAUTHENTICATED');
});

test('a key that differs from the pinned one is shown, not trusted', async () => {
  await api.call('POST', '/api/partners', {
    key: api.keys.operator,
    body: { name: 'moved', host: '127.0.0.1', port: sshd.port, user: sshd.user, password: 'unused-pw' },
  });
  const other = 'SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE';
  await api.call('POST', '/api/partners/moved/trust', {
    key: api.keys.operator,
    body: { algorithm: 'ssh-ed25519', sha256: other },
  });
  const fetched = await api.call('GET', '/api/partners/moved/hostkey', { key: api.keys.operator });
  assert.deepEqual(fetched.body, {
    algorithm: 'ssh-ed25519',
    sha256: sshd.hostKeySha256,
    pinned: other,
    matches: false,
  });
  assert.equal(
    (await api.call('GET', '/api/partners/moved', { key: api.keys.operator })).body.hostKey,
    `ssh-ed25519 ${other}`,
  );
});

test('bad input: unknown partner, unreachable server, each a one-line problem', async () => {
  assertProblem(
    await api.call('GET', '/api/partners/nope/hostkey', { key: api.keys.operator }),
    404,
    'ERR_NOT_FOUND',
  );
  await api.call('POST', '/api/partners', {
    key: api.keys.operator,
    body: { name: 'down', host: '127.0.0.1', port: 1, user: 'x', password: 'unused-pw' },
  });
  const down: Json = await api.call('GET', '/api/partners/down/hostkey', { key: api.keys.operator });
  assert.equal(down.type.startsWith('application/problem+json'), true, JSON.stringify(down.body));
  assert.ok(down.status >= 400, JSON.stringify(down.body));
  assert.equal(String(down.body.detail).includes('\n'), false);
});
