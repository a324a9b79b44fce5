// `ferry serve --storage-encryption` with OpenSSH sftp: nothing readable on disk, the same bytes back, resume both ways, rekey.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { sha256File } from './helpers/files.js';
import { type ClientKey, makeClientKey, type RunResult, sftpBatch } from './helpers/openssh.js';

const MARKER = 'FERRY-PLAINTEXT-MARKER-0c4b9e';

let work: string;
let dataDir: string;
let key: ClientKey;
let server: ChildProcess | undefined;
let port: number;

/** `ferry serve --storage-encryption` as a user starts it; resolves once it prints where it listens. */
function serve(extra: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      FERRY_BIN,
      'serve',
      '--storage-encryption',
      ...extra,
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1',
      '--sftp-port',
      '0',
      '--workers',
      '1',
    ],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}):\n${out}`));
    });
  });
}

function sftp(lines: string[]): Promise<RunResult> {
  return sftpBatch({
    port,
    user: 'alice',
    identity: key.privatePath,
    batch: `${lines.join('\n')}\n`,
    cwd: work,
  });
}

async function ok(lines: string[]): Promise<RunResult> {
  const r = await sftp(lines);
  assert.equal(r.code, 0, `sftp failed:\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-encstore-'));
  dataDir = join(work, 'data');
  key = await makeClientKey(work, 'ed25519');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const added = await runFerry([
    'users',
    'add',
    'alice',
    '--public-key',
    key.publicPath,
    '--data-dir',
    dataDir,
  ]);
  assert.equal(added.code, 0, added.stderr);
  // Over 2 MiB (many pipelined 32 KiB writes and reads), not a multiple of the 64 KiB segment, the marker throughout.
  const parts: Buffer[] = [];
  for (let i = 0; i < 48; i++) parts.push(randomBytes(65_000), Buffer.from(`${MARKER}\n`));
  await writeFile(join(work, 'data.bin'), Buffer.concat(parts));
  const started = await serve();
  server = started.child;
  port = started.port;
});

async function stopServer(): Promise<void> {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((res) => server!.once('exit', res));
    server.kill('SIGTERM');
    await exited;
  }
}

after(async () => {
  await stopServer();
  if (work) await rm(work, { recursive: true, force: true });
});

test('an upload is stored encrypted: the marker is nowhere on disk, and get returns the same bytes', async () => {
  const r = await ok(['put data.bin', 'get data.bin copy.bin', 'ls -l data.bin']);
  assert.equal(await sha256File(join(work, 'copy.bin')), await sha256File(join(work, 'data.bin')));
  const size = (await readFile(join(work, 'data.bin'))).length;
  assert.match(r.stdout, new RegExp(`\\s${size}\\s`), 'ls -l shows the plaintext size');
  const stored = await filesUnder(join(dataDir, 'homes'));
  assert.ok(stored.length > 0);
  for (const file of stored) {
    assert.equal((await readFile(file)).indexOf(MARKER), -1, `${file} holds plaintext`);
  }
});

test('put -p keeps the times it sets after the last write (nothing written back later overrides them)', async () => {
  await writeFile(join(work, 'dated.txt'), `${MARKER} with a date\n`);
  await utimes(join(work, 'dated.txt'), 981_173_106, 981_173_106);
  await ok(['put -p dated.txt']);
  const home = join(dataDir, 'homes', 'alice');
  assert.equal(Math.floor((await stat(join(home, 'dated.txt'))).mtimeMs / 1000), 981_173_106);
});

test('reput and reget continue transfers that stopped part way', async () => {
  const whole = await readFile(join(work, 'data.bin'));
  await writeFile(join(work, 'part.bin'), whole.subarray(0, 1_000_003));
  await ok(['put part.bin resumed.bin', 'reput data.bin resumed.bin', 'get resumed.bin resumed.copy']);
  assert.equal(await sha256File(join(work, 'resumed.copy')), await sha256File(join(work, 'data.bin')));

  await writeFile(join(work, 'fetch.part'), whole.subarray(0, 777_777));
  await ok(['reget data.bin fetch.part']);
  assert.equal(await sha256File(join(work, 'fetch.part')), await sha256File(join(work, 'data.bin')));
});

test('storage rekey moves data keys to another master key and back; the server reads only what its key wraps', async () => {
  await ok(['put data.bin rekeyed.bin']);
  // A home outside the homes directory (inside the data dir: Landlock allows no more) is re-keyed too.
  const added = await runFerry([
    'users',
    'add',
    'bob',
    '--public-key',
    key.publicPath,
    '--home',
    join(dataDir, 'elsewhere', 'bob'),
    '--data-dir',
    dataDir,
  ]);
  assert.equal(added.code, 0, added.stderr);
  const asBob = (lines: string[]) =>
    sftpBatch({ port, user: 'bob', identity: key.privatePath, batch: `${lines.join('\n')}\n`, cwd: work });
  const bobPut = await asBob(['put data.bin bob.bin']);
  assert.equal(bobPut.code, 0, bobPut.stderr);
  const other = join(work, 'other.key');
  await writeFile(other, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  const away = await runFerry(['storage', 'rekey', '--new-master-key', other, '--data-dir', dataDir]);
  assert.equal(away.code, 0, away.stderr);
  assert.match(
    away.stdout,
    /\d+ file\(s\) re-wrapped under key [0-9a-f]{16}, 0 already under it, 0 not encrypted, 0 failed/,
  );

  const refused = await sftp(['get rekeyed.bin refused.bin']);
  assert.notEqual(refused.code, 0, 'the server, still on the old key, cannot open the file');
  assert.notEqual(
    (await asBob(['get bob.bin bob.refused'])).code,
    0,
    "bob's file moved to the other key too",
  );

  const back = await runFerry(['storage', 'rekey', '--old-master-key', other, '--data-dir', dataDir]);
  assert.equal(back.code, 0, back.stderr);
  await ok(['get rekeyed.bin back.bin']);
  assert.equal((await asBob(['get bob.bin bob.back'])).code, 0);
  assert.equal(await sha256File(join(work, 'bob.back')), await sha256File(join(work, 'data.bin')));
  assert.equal(await sha256File(join(work, 'back.bin')), await sha256File(join(work, 'data.bin')));

  const usage = await runFerry(['storage', 'rekey', '--data-dir', dataDir]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--new-master-key FILE/);
});

test('storage.encryption.cipher chacha20-poly1305: new files sealed with it, files stored before still read', async () => {
  await ok(['put data.bin before-chacha.bin']);
  await stopServer();
  const config = join(work, 'chacha.json');
  await writeFile(config, JSON.stringify({ storage: { encryption: { cipher: 'chacha20-poly1305' } } }));
  const started = await serve(['--config', config]);
  server = started.child;
  port = started.port;
  await writeFile(join(work, 'half.bin'), (await readFile(join(work, 'data.bin'))).subarray(0, 1_000_000));
  await ok(['put half.bin chacha.bin', 'reput data.bin chacha.bin', 'get chacha.bin chacha.copy']);
  await ok(['get before-chacha.bin before.copy']);
  const stored = await readFile(join(dataDir, 'homes', 'alice', 'chacha.bin'));
  assert.equal(stored.subarray(0, 8).toString('latin1'), 'FERRYENC');
  assert.equal(stored.readUInt8(8), 2, 'format 2: the header names the cipher');
  assert.equal(stored.readUInt8(10), 1, 'ChaCha20-Poly1305');
  assert.equal(stored.indexOf(MARKER), -1, 'no plaintext on disk');
  const before = await readFile(join(dataDir, 'homes', 'alice', 'before-chacha.bin'));
  assert.equal(before.readUInt8(8), 1, 'the file stored before stays AES-256-GCM (format 1)');
  const want = await sha256File(join(work, 'data.bin'));
  assert.equal(await sha256File(join(work, 'chacha.copy')), want, 'resumed upload read back');
  assert.equal(await sha256File(join(work, 'before.copy')), want);
});
