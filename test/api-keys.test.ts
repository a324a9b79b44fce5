// Keys in over HTTP: an ssh-keygen host key imported, OpenPGP keys generated and imported (checked with GnuPG);
// only the admin may, bad input changes nothing, and no private half ever comes back or reaches the audit trail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';
import { type Gpg, makeGpg } from './helpers/gpg.js';

const execFileAsync = promisify(execFile);
let api: ApiTestServer;
let work: string;
let gpg: Gpg;
const call: ApiTestServer['call'] = (...args) => api.call(...args);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-api-keys-'));
  api = await startApiTestServer();
  gpg = await makeGpg(work, 'partner');
});

after(async () => {
  await api?.close();
  await gpg?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

const hostKeyIds = async () =>
  (await call('GET', '/api/keys/host', { key: api.keys.operator })).body.items.map(
    (k: { id: number }) => k.id,
  );

describe('REST API key import and generation', () => {
  test('an ssh-keygen host key is imported pending by the admin only; garbage is one line and imports nothing', async () => {
    const file = join(work, 'host_ed25519');
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'imported', '-f', file]);
    const privateKey = await readFile(file, 'utf8');
    const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-f', `${file}.pub`]);
    const fingerprint = stdout.split(' ')[1];
    const before = await hostKeyIds();

    assertProblem(
      await call('POST', '/api/keys/host/import', { key: api.keys.operator, body: { privateKey } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    const garbage = await call('POST', '/api/keys/host/import', {
      key: api.keys.admin,
      body: { privateKey: 'not a key' },
    });
    assertProblem(garbage, 400, 'ERR_INVALID_ARGUMENT');
    assert.doesNotMatch(garbage.body.detail, /\n/);
    assertProblem(
      await call('POST', '/api/keys/host/import', { key: api.keys.admin, body: { privateKey, extra: 1 } }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    assert.deepEqual(await hostKeyIds(), before);

    const imported = await call('POST', '/api/keys/host/import', {
      key: api.keys.admin,
      body: { privateKey },
    });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    assert.equal(imported.body.sha256, fingerprint);
    assert.equal(imported.body.state, 'pending');
    assert.equal(JSON.stringify(imported.body).includes('PRIVATE'), false);
    const promoted = await call('POST', `/api/keys/host/${imported.body.id}/promote`, {
      key: api.keys.admin,
    });
    assert.equal(promoted.body.state, 'active');
    const records = JSON.stringify(await api.adminRecords());
    assert.equal(records.includes('PRIVATE KEY'), false);
    assert.ok(
      (await api.adminRecords()).some(
        (r: { target: string; actor: string; detail: { command: string } }) =>
          r.target === `host key ${imported.body.id}` &&
          r.actor === 'api:admin-key' &&
          r.detail.command === 'keys host import',
      ),
    );
  });

  test('OpenPGP: generated keys are read by GnuPG; a partner public key imports; removal is the admin own', async () => {
    assertProblem(
      await call('POST', '/api/keys/pgp', {
        key: api.keys.operator,
        body: { name: 'vault', email: 'ferry@example.com' },
      }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assertProblem(
      await call('POST', '/api/keys/pgp', { key: api.keys.admin, body: { name: 'vault', type: 'dsa' } }),
      400,
      'ERR_INVALID_ARGUMENT',
    );
    const made = await call('POST', '/api/keys/pgp', {
      key: api.keys.admin,
      body: { name: 'vault', email: 'ferry@example.com', userName: 'Ferry' },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.hasPrivate, true);
    assert.match(made.body.publicKey, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    assert.equal(JSON.stringify(made.body).includes('PRIVATE KEY BLOCK'), false);
    const imported = await gpg.run(['--import'], made.body.publicKey);
    assert.equal(imported.code, 0, imported.stderr);
    const listed = await gpg.run(['--with-colons', '--list-keys', 'ferry@example.com']);
    assert.ok(listed.stdout.includes(`fpr:::::::::${made.body.fingerprint}:`), listed.stdout);

    const partnerFingerprint = await gpg.generate('Acme <pgp@acme.example>');
    const armored = await gpg.exportPublic(partnerFingerprint);
    const bad = await call('POST', '/api/keys/pgp/import', {
      key: api.keys.admin,
      body: { name: 'acme', key: '-----BEGIN PGP PUBLIC KEY BLOCK-----\nxx\n' },
    });
    assertProblem(bad, 400, 'ERR_INVALID_ARGUMENT');
    const partner = await call('POST', '/api/keys/pgp/import', {
      key: api.keys.admin,
      body: { name: 'acme', key: armored },
    });
    assert.equal(partner.status, 201, JSON.stringify(partner.body));
    assert.equal(partner.body.fingerprint.toUpperCase(), partnerFingerprint.toUpperCase());
    assert.equal(partner.body.hasPrivate, false);
    const names = (await call('GET', '/api/keys/pgp', { key: api.keys.operator })).body.items.map(
      (k: { name: string }) => k.name,
    );
    assert.deepEqual(names.sort(), ['acme', 'vault']);

    assertProblem(
      await call('DELETE', '/api/keys/pgp/acme', { key: api.keys.operator }),
      403,
      'ERR_PERMISSION_DENIED',
    );
    assert.equal((await call('DELETE', '/api/keys/pgp/acme', { key: api.keys.admin })).status, 204);
    assertProblem(await call('DELETE', '/api/keys/pgp/acme', { key: api.keys.admin }), 404, 'ERR_NOT_FOUND');
    assert.equal(JSON.stringify(await api.adminRecords()).includes('PRIVATE KEY BLOCK'), false);
  });
});
