// A serving process keeps the ring of an upload's hashing thread for the next upload (native/aead/src/ring.c) and
// gives it back once idle: an OpenSSH upload past the first MiB, then the idle release's debug line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { makeClientKey, sftpBatch } from './helpers/openssh.js';

const MIB = 1024 * 1024;

test('a single process gives back the rings its uploads kept once it is idle', {
  timeout: 120_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-idle-rings-'));
  const dataDir = join(dir, 'data');
  const key = await makeClientKey(dir, 'ed25519');
  assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
  const added = await runFerry([
    'users',
    'add',
    'ringer',
    '--public-key',
    key.publicPath,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(added.code, 0, added.stderr);
  const source = join(dir, 'four.bin');
  await writeFile(source, Buffer.alloc(4 * MIB, 7));
  const child = spawn(
    process.execPath,
    [
      '--initial-old-space-size=256',
      '--expose-gc',
      FERRY_BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1',
      '--sftp-port',
      '0',
      '--http-listen',
      '127.0.0.1:0',
      '--workers',
      '1',
    ],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'debug' } },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let seen = '';
  const waitFor = (pattern: RegExp, what: string) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} in 60 s:\n${seen}`)), 60_000);
      const check = () => {
        const match = seen.match(pattern);
        if (!match) return;
        clearTimeout(timer);
        child.stdout.off('data', check);
        child.stderr.off('data', check);
        resolve(match);
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      check();
    });
  const collect = (d: Buffer) => {
    seen += d.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  try {
    const port = Number((await waitFor(/SFTP listening on 127\.0\.0\.1:(\d+)/, 'listening line'))[1]);
    const releasedBefore = seen.split('\n').filter((l) => l.includes('"idle: kept rings given back"')).length;
    assert.equal(releasedBefore, 0, 'no upload yet, no ring kept');
    const put = await sftpBatch({
      port,
      user: 'ringer',
      identity: key.privatePath,
      batch: `put ${source} /a.bin\nput ${source} /b.bin\n`,
    });
    assert.equal(put.code, 0, put.stderr);
    const line = await waitFor(/\{[^\n]*"idle: kept rings given back"[^\n]*\}/, 'idle ring release');
    const { ringMB } = JSON.parse(line[0]) as { ringMB: number };
    // Two uploads one after the other: the second took the first's ring, so one ring is kept, not two.
    assert.equal(ringMB, 2, `one 2 MiB hashing ring kept between the uploads (${ringMB} MiB)`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
});
