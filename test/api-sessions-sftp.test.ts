// GET /api/sessions shows the file an SFTP session is moving now, with its bytes and average rate: a real OpenSSH
// sftp upload and a legacy-protocol scp upload, slowed with -l so they are still running when the operator looks.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiTestServer, type Json, startApiTestServer } from './helpers/api.js';
import { scpRun, sftpBatch } from './helpers/openssh.js';

const SIZE = 8 * 1024 * 1024;
let api: ApiTestServer;
let work: string;

before(async () => {
  api = await startApiTestServer();
  await api.server.addUser('carol', { password: 'pw-carol-12345' });
  work = await mkdtemp(join(tmpdir(), 'ferry-api-sftp-'));
  await writeFile(join(work, 'up.bin'), randomBytes(SIZE));
});

after(async () => {
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function moving(minBytes: number, path = '/up.bin', direction = 'upload'): Promise<Json> {
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const list = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
    assert.equal(list.status, 200);
    const found = list.body.items.find(
      (s: Json) =>
        s.username === 'carol' &&
        s.transfer?.direction === direction &&
        s.transfer.path === path &&
        s.transfer.bytes > minBytes,
    );
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${direction} of carol at ${path} beyond ${minBytes} bytes listed`);
}

const uploading = (minBytes: number, path?: string) => moving(minBytes, path, 'upload');

/** OpenSSH sftp as carol at -l 2048 Kbit/s (256 KiB/s): 8 MiB takes about half a minute. */
const slowSftp = (batch: string) =>
  sftpBatch({
    port: api.server.port,
    user: 'carol',
    password: 'pw-carol-12345',
    cwd: work,
    extraArgs: ['-l', '2048'],
    batch,
  });

test('a running sftp upload is listed with its path, growing bytes and a non-zero rate', async () => {
  const client = slowSftp('put up.bin /up.bin\n');
  const first = await uploading(0);
  // 'ssh' until the first finished transfer or file operation shows the subsystem.
  assert.ok(['ssh', 'sftp'].includes(first.protocol), first.protocol);
  assert.equal(first.transfer.path, '/up.bin');
  assert.ok(first.transfer.bytes < SIZE, 'still moving');
  assert.ok(!Number.isNaN(Date.parse(first.transfer.startedAt)));
  assert.ok(first.transfer.bytesPerSecond > 0, JSON.stringify(first.transfer));
  const later = await uploading(first.transfer.bytes);
  assert.equal(later.id, first.id);
  assert.ok(later.transfer.bytesPerSecond > 0);
  // Bounded by what the link allows (generously: the client's limit is an average, loopback is fast).
  assert.ok(later.transfer.bytesPerSecond < 64 * 1024 * 1024, JSON.stringify(later.transfer));
  assert.equal(later.transfer.startedAt, first.transfer.startedAt);

  const killed = await api.call('DELETE', `/api/sessions/${first.id}`, { key: api.keys.operator });
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  const { code } = await client;
  assert.notEqual(code, 0, 'sftp saw its upload cut');
  const left = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
  assert.deepEqual(
    left.body.items.filter((s: Json) => s.id === first.id),
    [],
  );
});

test('a running scp upload is listed the same way', async () => {
  const client = scpRun({
    port: api.server.port,
    user: 'carol',
    password: 'pw-carol-12345',
    cwd: work,
    // -O: the legacy SCP protocol (OpenSSH's scp speaks SFTP otherwise).
    args: ['-O', '-l', '2048', 'up.bin', 'remote:/scp.bin'],
  });
  const first = await uploading(0, '/scp.bin');
  assert.ok(first.transfer.bytes < SIZE, 'still moving');
  assert.ok(first.transfer.bytesPerSecond > 0, JSON.stringify(first.transfer));
  const later = await uploading(first.transfer.bytes, '/scp.bin');
  assert.equal(later.id, first.id);
  const killed = await api.call('DELETE', `/api/sessions/${first.id}`, { key: api.keys.operator });
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  assert.notEqual((await client).code, 0, 'scp saw its upload cut');
});

test('a killed slow sftp download stops within seconds', async () => {
  const home = await api.server.homeOf('carol');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'down.bin'), randomBytes(SIZE));
  const client = slowSftp('get /down.bin down.bin\n');
  const first = await moving(256 * 1024, '/down.bin', 'download');
  const killed = await api.call('DELETE', `/api/sessions/${first.id}`, { key: api.keys.operator });
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  const started = Date.now();
  const { code } = await client;
  const seconds = (Date.now() - started) / 1000;
  assert.notEqual(code, 0, 'sftp saw its download cut');
  // The SSH disconnect is queued behind what the server already sent, which the channel window bounds (~1 s
  // here); an FTPS data connection had no such bound until kills reset it (test/api-sessions-ftps.test.ts).
  assert.ok(seconds < 5, `sftp ran ${seconds.toFixed(1)} s after the kill`);
});

test('an idle sftp session has no transfer', async () => {
  const client = sftpBatch({
    port: api.server.port,
    user: 'carol',
    password: 'pw-carol-12345',
    cwd: work,
    batch: 'ls /\n!sleep 3\n',
  });
  let seen: Json;
  const end = Date.now() + 15_000;
  while (!seen && Date.now() < end) {
    const list = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
    seen = list.body.items.find((s: Json) => s.username === 'carol');
    if (!seen) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(seen, 'session listed');
  assert.equal(seen.transfer, null);
  await client;
});
