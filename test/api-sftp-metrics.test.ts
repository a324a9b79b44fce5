// What /metrics tells about SFTP itself: request latency by type after real OpenSSH transfers, and open handles.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FXP, MAX_READ_LENGTH, MAX_WRITE_LENGTH } from '../src/sftp/wire/constants.js';
import { sftpBatch } from './helpers/openssh.js';
import { parseMetrics, sum } from './helpers/prometheus-text.js';
import { FXF, RawSftp } from './helpers/raw-sftp.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'olga-pw-123456';
const SIZE = 1_000_000;
let server: TestServer;
let work: string;

async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${server.running.httpPort}/metrics`);
  assert.equal(response.status, 200);
  return parseMetrics(await response.text());
}

const requests = (samples: Map<string, number>, type: string) =>
  sum(samples, 'ferry_sftp_request_seconds_count', `type="${type}"`);

/** Polls until the gauge reads `want` (a session's teardown runs a moment after its client has gone). */
async function openHandlesReach(want: number): Promise<number> {
  let seen = sum(await scrape(), 'ferry_open_handles');
  for (let i = 0; seen !== want && i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    seen = sum(await scrape(), 'ferry_open_handles');
  }
  return seen;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-sftp-metrics-'));
  server = await startTestServer();
  await server.addUser('olga', { password: PASSWORD });
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('SFTP metrics', () => {
  test('an OpenSSH sftp upload, download and listing move the request latency histogram by type', async () => {
    await writeFile(join(work, 'up.bin'), Buffer.alloc(SIZE, 5));
    const before = await scrape();
    const session = await sftpBatch({
      port: server.port,
      user: 'olga',
      password: PASSWORD,
      batch: 'put up.bin\nget up.bin down.bin\nls\n',
      cwd: work,
    });
    assert.equal(session.code, 0, session.stderr);
    assert.deepEqual(await readFile(join(work, 'down.bin')), Buffer.alloc(SIZE, 5));
    // Each request is counted before its reply is sent: once the client has its answers, the counts are final.
    const now = await scrape();
    const moved = (type: string) => requests(now, type) - requests(before, type);
    // No WRITE or READ moves more than the server's limits@openssh.com allow (OpenSSH asks for them).
    assert.ok(moved('write') >= Math.ceil(SIZE / MAX_WRITE_LENGTH), `write: ${moved('write')}`);
    assert.ok(moved('read') >= Math.ceil(SIZE / MAX_READ_LENGTH), `read: ${moved('read')}`);
    assert.ok(moved('open') >= 2, `open: ${moved('open')}`);
    assert.ok(moved('close') >= 3, `close: ${moved('close')} (two files and the listed directory)`);
    assert.ok(moved('opendir') >= 1, `opendir: ${moved('opendir')}`);
    assert.ok(moved('readdir') >= 1, `readdir: ${moved('readdir')}`);
    assert.ok(moved('realpath') >= 1, `realpath: ${moved('realpath')}`);
    // A histogram's +Inf bucket counts every observation, and its sum is the seconds they took.
    for (const type of ['write', 'read', 'open']) {
      assert.equal(
        sum(now, 'ferry_sftp_request_seconds_bucket', `type="${type}"`, 'le="+Inf"'),
        requests(now, type),
        type,
      );
      assert.ok(sum(now, 'ferry_sftp_request_seconds_sum', `type="${type}"`) > 0, type);
    }
    // An extension is counted under its own name (a fixed set: unknown ones are refused before dispatch).
    const raw = await RawSftp.connect({ port: server.port, username: 'olga', password: PASSWORD });
    try {
      await raw.posixRename('/up.bin', '/moved.bin');
    } finally {
      raw.end();
    }
    assert.equal(
      requests(await scrape(), 'posix-rename@openssh.com') - requests(now, 'posix-rename@openssh.com'),
      1,
    );
  });

  test('ferry_open_handles counts the files and directories a client holds open, and nothing once it lets go', async () => {
    assert.equal(await openHandlesReach(0), 0, 'no handles before');
    const raw = await RawSftp.connect({ port: server.port, username: 'olga', password: PASSWORD });
    try {
      const file = await raw.open('/held.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
      await raw.write(file, 0, Buffer.from('held'));
      assert.equal(sum(await scrape(), 'ferry_open_handles'), 1, 'one open file');
      const dirReply = await raw.request(FXP.OPENDIR, (w) => w.string('/'));
      assert.equal(dirReply.type, FXP.HANDLE);
      const dir = dirReply.reader.string();
      assert.equal(sum(await scrape(), 'ferry_open_handles'), 2, 'a file and a directory');
      await raw.close(dir);
      await raw.close(file);
      assert.equal(sum(await scrape(), 'ferry_open_handles'), 0, 'closed by the client');
      // A handle left open when the connection drops is given back by the session's teardown.
      await raw.open('/held.bin', FXF.READ);
      assert.equal(sum(await scrape(), 'ferry_open_handles'), 1);
    } finally {
      raw.end();
    }
    assert.equal(await openHandlesReach(0), 0, 'given back when the client went away');
  });
});
