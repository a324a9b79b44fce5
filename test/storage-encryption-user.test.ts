// Encrypted storage chosen per user (`ferry users set NAME --storage-encryption on|off|default`) on a server
// without --storage-encryption, seen with OpenSSH sftp: only that user's new files are ciphertext on disk.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startApiTestServer } from './helpers/api.js';
import { runFerry } from './helpers/cli.js';
import { sha256File } from './helpers/files.js';
import { type ClientKey, makeClientKey, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const MARKER = 'FERRY-USER-ENCRYPTION-MARKER-5d1e';

let server: TestServer;
let work: string;
let key: ClientKey;

async function put(user: string, local: string, remote: string): Promise<void> {
  const r = await sftpBatch({
    port: server.port,
    user,
    identity: key.privatePath,
    batch: `put ${local} ${remote}\nget ${remote} ${remote}.back\n`,
    cwd: work,
  });
  assert.equal(r.code, 0, `sftp as ${user} failed:\n${r.stderr}`);
  assert.equal(await sha256File(join(work, `${remote}.back`)), await sha256File(join(work, local)));
}

async function stored(user: string, name: string): Promise<Buffer> {
  return readFile(join(await server.homeOf(user), name));
}

const ferry = (args: string[]) => runFerry([...args, '--data-dir', server.dataDir]);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-user-enc-'));
  key = await makeClientKey(work, 'ed25519');
  server = await startTestServer();
  const publicKey = await readFile(key.publicPath, 'utf8');
  await server.addUser('alice', { publicKeys: [publicKey] });
  await server.addUser('bob', { publicKeys: [publicKey] });
  const parts: Buffer[] = [];
  for (let i = 0; i < 20; i++) parts.push(randomBytes(65_000), Buffer.from(`${MARKER}\n`));
  await writeFile(join(work, 'data.bin'), Buffer.concat(parts));
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test("a user set to on stores new files encrypted on a plain server, others' stay plain; off stores plain and still reads the encrypted ones", async () => {
  const set = await ferry(['users', 'set', 'alice', '--storage-encryption', 'on']);
  assert.equal(set.code, 0, set.stderr);
  assert.match((await ferry(['users', 'show', 'alice'])).stdout, /encryption: +on/);
  assert.match((await ferry(['users', 'show', 'bob'])).stdout, /encryption: +the server's setting/);
  // What their sessions get, and by whose setting.
  assert.match((await ferry(['users', 'show', 'alice', '--effective'])).stdout, /encryption: +on .*\[user\]/);
  assert.match((await ferry(['users', 'show', 'bob', '--effective'])).stdout, /encryption: +off +\[server\]/);

  await put('alice', 'data.bin', 'a1.bin');
  await put('bob', 'data.bin', 'b1.bin');
  assert.equal((await stored('alice', 'a1.bin')).indexOf(MARKER), -1, "alice's file holds plaintext");
  assert.ok((await stored('alice', 'a1.bin')).subarray(0, 8).equals(Buffer.from('FERRYENC')));
  assert.notEqual((await stored('bob', 'b1.bin')).indexOf(MARKER), -1, "bob's file is stored as it is");

  // Turned off: new files plain, the encrypted one still reads back the same.
  assert.equal((await ferry(['users', 'set', 'alice', '--storage-encryption', 'off'])).code, 0);
  assert.match((await ferry(['users', 'show', 'alice'])).stdout, /encryption: +off/);
  await put('alice', 'data.bin', 'a2.bin');
  assert.notEqual((await stored('alice', 'a2.bin')).indexOf(MARKER), -1);
  const r = await sftpBatch({
    port: server.port,
    user: 'alice',
    identity: key.privatePath,
    batch: 'get a1.bin a1.again\n',
    cwd: work,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await sha256File(join(work, 'a1.again')), await sha256File(join(work, 'data.bin')));

  // The setting goes with the user to another Ferry (users export / import).
  const exported = await ferry(['users', 'export']);
  assert.equal(exported.code, 0, exported.stderr);
  const users = (JSON.parse(exported.stdout) as { users: { name: string; storageEncryption: unknown }[] })
    .users;
  assert.equal(users.find((u) => u.name === 'alice')?.storageEncryption, false);
  assert.equal(users.find((u) => u.name === 'bob')?.storageEncryption, null);
});

test('a bad value is a one-line usage error and changes nothing', async () => {
  const r = await ferry(['users', 'set', 'bob', '--storage-encryption', 'yes']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--storage-encryption: expected on, off or default, got yes/);
  assert.match((await ferry(['users', 'show', 'bob'])).stdout, /encryption: +the server's setting/);
});

test('PATCH /api/users/{name} sets storageEncryption (true, false, null), shows it and audits the change', async () => {
  const api = await startApiTestServer({});
  try {
    const key = api.keys.operator;
    assert.equal((await api.call('POST', '/api/users', { key, body: { username: 'eve' } })).status, 201);
    const shown = await api.call('GET', '/api/users/eve', { key });
    assert.equal(shown.body.storageEncryption, null);
    for (const value of [true, false, null]) {
      const r = await api.call('PATCH', '/api/users/eve', { key, body: { storageEncryption: value } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.storageEncryption, value);
      const effective = await api.call('GET', '/api/users/eve/effective', { key });
      assert.equal(effective.status, 200, JSON.stringify(effective.body));
      assert.equal(effective.body.storageEncryption, value ?? false, 'the server here does not encrypt');
      assert.equal(effective.body.sources.storageEncryption, value === null ? 'server' : 'user');
    }
    const record = (await api.adminRecords()).filter((r) => r.target === 'eve').at(-1);
    assert.deepEqual(record?.detail.changes.storageEncryption, { from: false, to: null });
    const bad = await api.call('PATCH', '/api/users/eve', { key, body: { storageEncryption: 'yes' } });
    assert.equal(bad.status, 400);
  } finally {
    await api.close();
  }
});
