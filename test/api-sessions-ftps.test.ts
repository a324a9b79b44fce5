// GET /api/sessions lists FTPS connections (protocol ftps, user, address, the file moving now) and DELETE ends
// them: real curl transfers, slowed so they are still running when the operator looks.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiTestServer, type Json, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
let work: string;
let port: number;
const children: ChildProcess[] = [];

before(async () => {
  api = await startApiTestServer({ config: { ftps: { port: 0 } } });
  port = api.server.running.ftps!.port!;
  await api.server.addUser('bob', { password: 'pw-bob-12345' });
  const home = await api.server.homeOf('bob');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'big.bin'), randomBytes(8 * 1024 * 1024));
  work = await mkdtemp(join(tmpdir(), 'ferry-api-ftps-'));
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** curl over explicit FTPS at 256 KiB/s: an 8 MiB file takes half a minute, long enough to be seen and cut. */
function slowCurl(args: readonly string[]) {
  const child = spawn('curl', ['-sS', '--ssl-reqd', '-k', '--limit-rate', '256k', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}

async function movingSession(direction: string): Promise<Json> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const list = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
    const found = list.body.items.find(
      (s: Json) => s.username === 'bob' && s.transfer?.direction === direction && s.transfer.bytes > 0,
    );
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${direction} of bob listed`);
}

async function kill(session: Json, exited: Promise<{ code: number | null; stderr: string }>) {
  const killed = await api.call('DELETE', `/api/sessions/${session.id}`, { key: api.keys.operator });
  assert.equal(killed.status, 200, JSON.stringify(killed.body));
  assert.deepEqual([killed.body.id, killed.body.username], [session.id, 'bob']);
  // A reset data connection ends curl at once; a closed one would let it drain the kernel's buffers at 256 KiB/s.
  let timer: NodeJS.Timeout | undefined;
  const { code } = await Promise.race([
    exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('curl still running')), 5_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.notEqual(code, 0, 'curl saw its transfer end');
  const left = await api.call('GET', '/api/sessions', { key: api.keys.auditor });
  assert.deepEqual(
    left.body.items.filter((s: Json) => s.id === session.id),
    [],
  );
}

test('an FTPS download and upload are listed with protocol, user, address and file, and an operator ends them', async () => {
  const url = `ftp://bob:pw-bob-12345@127.0.0.1:${port}`;
  const down = slowCurl(['-o', join(work, 'big.bin'), `${url}/big.bin`]);
  const downloading = await movingSession('download');
  assert.equal(downloading.protocol, 'ftps');
  assert.equal(downloading.remoteAddress, '127.0.0.1');
  assert.equal(downloading.transfer.path, '/big.bin');
  assert.ok(downloading.transfer.bytes < 8 * 1024 * 1024, 'still moving');
  assert.ok(!Number.isNaN(Date.parse(downloading.transfer.startedAt)));
  assert.ok(downloading.transfer.bytesPerSecond > 0, JSON.stringify(downloading.transfer));
  await kill(downloading, down.exited);

  await writeFile(join(work, 'up.bin'), randomBytes(8 * 1024 * 1024));
  const up = slowCurl(['-T', join(work, 'up.bin'), `${url}/up.bin`]);
  const uploading = await movingSession('upload');
  assert.deepEqual([uploading.protocol, uploading.transfer.path], ['ftps', '/up.bin']);
  await kill(uploading, up.exited);

  const records = await api.adminRecords();
  const kills = records.filter((r: Json) => r.detail?.command === 'sessions kill');
  assert.deepEqual(
    kills.map((r: Json) => [r.target, r.actor]).sort(),
    [
      [`session ${downloading.id}`, 'api:operator-key'],
      [`session ${uploading.id}`, 'api:operator-key'],
    ].sort(),
  );
});
