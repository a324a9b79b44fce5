// GET /api/sessions lists FTPS connections (protocol ftps, user, address, the file moving now) and DELETE ends
// them: real curl transfers, slowed so they are still running when the operator looks.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ApiTestServer, type Json, startApiTestServer } from './helpers/api.js';

let api: ApiTestServer;
let work: string;
let port: number;
const children: ChildProcess[] = [];
/**
 * The download's size: more than the kernel can hold for a slow reader (the server's send buffer, up to 4 MiB here,
 * plus curl's receive buffer, which autotuning grows up to tcp_rmem's 32 MiB). An 8 MiB file sometimes fitted: the
 * server had handed all of it over and ended its transfer before the kill, and curl drained it at 256 KiB/s.
 */
const DOWNLOAD_BYTES = 64 * 1024 * 1024;

before(async () => {
  api = await startApiTestServer({ config: { ftps: { port: 0 } } });
  port = api.server.running.ftps!.port!;
  await api.server.addUser('bob', { password: 'pw-bob-12345' });
  const home = await api.server.homeOf('bob');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'big.bin'), randomBytes(DOWNLOAD_BYTES));
  work = await mkdtemp(join(tmpdir(), 'ferry-api-ftps-'));
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await api?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** curl over explicit FTPS at 256 KiB/s: long enough to be seen and cut. */
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
  // The server resets the data connection (its send buffer is dropped, not delivered), but what curl's own receive
  // buffer already holds is still read at 256 KiB/s before curl sees the reset: autotuning grows that buffer up to
  // tcp_rmem's maximum (32 MiB here), and the server sends at tens of MB/s until it fills. So curl's end is waited
  // for as long as that can take; that the transfer was cut shows in its exit code and the file below.
  let timer: NodeJS.Timeout | undefined;
  const { code } = await Promise.race([
    exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('curl still running')), 90_000);
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
  assert.ok(downloading.transfer.bytes < DOWNLOAD_BYTES, 'still moving');
  assert.ok(!Number.isNaN(Date.parse(downloading.transfer.startedAt)));
  assert.ok(downloading.transfer.bytesPerSecond > 0, JSON.stringify(downloading.transfer));
  await kill(downloading, down.exited);
  assert.ok((await stat(join(work, 'big.bin'))).size < DOWNLOAD_BYTES, 'the download was cut short');

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
