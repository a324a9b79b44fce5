// POST /api/keys/client and /api/keys/client/import: client keys for partners made or brought in over HTTP. The
// answer is the public line (ssh-keygen agrees on its fingerprint); the private half never comes back.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type ApiTestServer, assertProblem, startApiTestServer } from './helpers/api.js';

const run = promisify(execFile);
let api: ApiTestServer;
let dir: string;

before(async () => {
  api = await startApiTestServer();
  dir = await mkdtemp(join(tmpdir(), 'ferry-api-client-keys-'));
});

after(async () => {
  await api?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** ssh-keygen's SHA256 fingerprint of a public key line. */
async function sshKeygenFingerprint(line: string): Promise<string> {
  const child = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-']);
  child.child.stdin!.end(`${line}\n`);
  return (await child).stdout.split(' ')[1]!;
}

test('operators and admins generate and import client keys; only public halves come back; auditors are refused', async () => {
  const { call, keys } = api;
  for (const path of ['/api/keys/client', '/api/keys/client/import'])
    assertProblem(
      await call('POST', path, { key: keys.auditor, body: { name: 'x', type: 'ed25519', privateKey: 'x' } }),
      403,
      'ERR_PERMISSION_DENIED',
    );
  const made = await call('POST', '/api/keys/client', {
    key: keys.operator,
    body: { name: 'acme-key', type: 'ed25519' },
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.match(made.body.publicKey, /^ssh-ed25519 AAAA/);
  assert.equal(await sshKeygenFingerprint(made.body.publicKey), made.body.sha256);
  const rsa = await call('POST', '/api/keys/client', {
    key: keys.admin,
    body: { name: 'rsa-key', type: 'rsa', bits: 2048 },
  });
  assert.equal(rsa.status, 201, JSON.stringify(rsa.body));
  assert.equal(rsa.body.bits, 2048);
  // The private half is in the store, sealed, and is the pair of the public line given out.
  const pair = await api.server.running.context.clientKeys.keyPair('acme-key');
  assert.equal(pair.sha256, made.body.sha256);

  // A key made by ssh-keygen, encrypted: imported with its passphrase, refused with a wrong one.
  const file = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pass phrase 1', '-C', 'ops', '-f', file]);
  const privateKey = await readFile(file, 'utf8');
  const expected = await sshKeygenFingerprint(await readFile(`${file}.pub`, 'utf8'));
  const wrong = await call('POST', '/api/keys/client/import', {
    key: keys.operator,
    body: { name: 'imported', privateKey, passphrase: 'wrong' },
  });
  assertProblem(wrong, 400, 'ERR_INVALID_ARGUMENT');
  assert.doesNotMatch(wrong.body.detail, /\n/);
  const imported = await call('POST', '/api/keys/client/import', {
    key: keys.operator,
    body: { name: 'imported', privateKey, passphrase: 'pass phrase 1' },
  });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  assert.equal(imported.body.sha256, expected);

  const listed = await call('GET', '/api/keys/client', { key: keys.operator });
  assert.deepEqual(
    listed.body.items.map((k: { name: string }) => k.name),
    ['acme-key', 'imported', 'rsa-key'],
  );
  for (const body of [made.body, rsa.body, imported.body, listed.body])
    assert.doesNotMatch(JSON.stringify(body), /PRIVATE|BEGIN OPENSSH/);

  const records = await api.adminRecords();
  const line = (command: string, target: string) =>
    records.find((r) => r.detail.command === command && r.target === target)?.actor;
  assert.equal(line('keys client generate', 'acme-key'), 'api:operator-key');
  assert.equal(line('keys client generate', 'rsa-key'), 'api:admin-key');
  assert.equal(line('keys client import', 'imported'), 'api:operator-key');
});

test('bad input is a one-line 400 (409 for a taken name) and stores nothing', async () => {
  const { call, keys } = api;
  const before = (await call('GET', '/api/keys/client', { key: keys.admin })).body.items.length;
  const cases: [string, unknown][] = [
    ['/api/keys/client', { name: '../etc', type: 'ed25519' }],
    ['/api/keys/client', { name: 'x', type: 'dsa' }],
    ['/api/keys/client', { name: 'x', type: 'rsa', bits: 1024 }],
    ['/api/keys/client', { name: 'x', type: 'ed25519', colour: 'red' }],
    ['/api/keys/client/import', { name: 'x', privateKey: 'not a key' }],
    ['/api/keys/client/import', { name: 'x' }],
  ];
  for (const [path, body] of cases) {
    const reply = await call('POST', path, { key: keys.admin, body });
    assertProblem(reply, 400, 'ERR_INVALID_ARGUMENT');
    assert.doesNotMatch(reply.body.detail, /\n/, JSON.stringify(body));
  }
  assertProblem(
    await call('POST', '/api/keys/client', { key: keys.admin, body: { name: 'acme-key', type: 'ed25519' } }),
    409,
    'ERR_ALREADY_EXISTS',
  );
  assert.equal((await call('GET', '/api/keys/client', { key: keys.admin })).body.items.length, before);
});
