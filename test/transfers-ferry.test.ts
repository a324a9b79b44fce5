// Transfer jobs against Ferry's own server: check-file integrity, two-factor login, and resume after `serve` is killed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addUser } from '../src/auth/user-admin.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { Secret } from '../src/util/secret.js';
import { startTestServer } from './helpers/server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');

test('pull and push jobs against Ferry verify with server-side SHA-256 and log in with key + password', async () => {
  const fx = await transferFixture();
  const server = await startTestServer();
  try {
    await server.addUser('acme', {
      password: 'two-factor-secret',
      publicKeys: [fx.publicKey],
      require: ['publickey', 'password'],
    });
    const home = await server.homeOf('acme');
    await mkdir(join(home, 'out'), { recursive: true });
    await mkdir(join(home, 'in'), { recursive: true });
    const expected = await randomFile(join(home, 'out', 'report.csv'), 3 * 1024 * 1024 + 17);
    await writeFile(join(home, 'out', 'ignore.log'), 'x');
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({
      name: 'acme',
      host: '127.0.0.1',
      port: server.port,
      username: 'acme',
      clientKey: 'id',
      password: new Secret('two-factor-secret'),
    });
    const key = await partners.fetchHostKey('acme');
    await partners.pin('acme', key);
    const report = await partners.test('acme');
    // Ferry's client and server both put the post-quantum hybrid first.
    assert.equal(report.kex, 'mlkem768x25519-sha256');
    assert.ok(report.extensions.includes('check-file-name'));
    assert.equal(report.chunk, 255 * 1024);

    const inbox = join(fx.dir, 'in');
    await jobs.add({
      name: 'pull',
      partner: 'acme',
      direction: 'pull',
      remoteDir: '/out',
      localDir: inbox,
      pattern: '*.csv',
      after: 'move:done',
    });
    const pulled = await jobs.run('pull');
    assert.equal(pulled.status, 'ok', pulled.error ?? '');
    assert.deepEqual(
      pulled.files.map((f) => [f.path, f.verified, f.sha256]),
      [['report.csv', 'check-file', expected]],
    );
    assert.equal(await sha256File(join(inbox, 'report.csv')), expected);
    assert.deepEqual(await readdir(join(home, 'out', 'done')), ['report.csv']);
    assert.deepEqual((await readdir(join(home, 'out'))).sort(), ['done', 'ignore.log']);

    await jobs.add({
      name: 'push',
      partner: 'acme',
      direction: 'push',
      remoteDir: '/in',
      localDir: inbox,
      pattern: '*.csv',
    });
    const pushed = await jobs.run('push');
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.equal(pushed.files[0]?.verified, 'check-file');
    assert.equal(await sha256File(join(home, 'in', 'report.csv')), expected);
  } finally {
    await server.close();
    await fx.close();
  }
});

interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
}

function serve(dataDir: string): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FERRY_LOG_LEVEL: 'silent' } },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /SFTP listening on [^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}): ${out}`));
    });
  });
}

function kill(p: ServeProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGKILL');
  return exited;
}

test('transfers cut off by killing the Ferry server process resume and end byte-identical', async () => {
  const fx = await transferFixture();
  const dataDir = join(fx.dir, 'server');
  await mkdir(dataDir, { mode: 0o700 });
  const store = await openSqliteStore(join(dataDir, 'ferry.db'));
  await addUser(store.users, { name: 'bank', publicKeysText: [fx.publicKey], requiredMethods: [] });
  await store.close();
  const home = join(dataDir, 'homes', 'bank');
  await mkdir(join(home, 'out'), { recursive: true });
  await mkdir(join(home, 'in'), { recursive: true });
  const size = 40 * 1024 * 1024;
  const pullExpected = await randomFile(join(home, 'out', 'statement.bin'), size);
  const outbox = join(fx.dir, 'outbox');
  await mkdir(outbox);
  const pushExpected = await randomFile(join(outbox, 'invoice.bin'), size);
  let server = await serve(dataDir);
  const killed: string[] = [];
  try {
    const { partners, jobs } = fx.ctx.transfers;
    await partners.add({
      name: 'bank',
      host: '127.0.0.1',
      port: server.port,
      username: 'bank',
      clientKey: 'id',
    });
    await partners.pin('bank', await partners.fetchHostKey('bank'));
    const restart = async () => {
      await kill(server);
      server = await serve(dataDir);
      // Same data dir, same host keys: only the ephemeral port differs.
      await fx.ctx.store.partners.update('bank', { port: server.port });
    };
    const cutAt = (name: string) => (_file: string, done: number) => {
      if (!killed.includes(name) && done > size / 3) {
        killed.push(name);
        server.child.kill('SIGKILL');
      }
    };
    const inbox = join(fx.dir, 'in');
    await jobs.add({
      name: 'pull',
      partner: 'bank',
      direction: 'pull',
      remoteDir: '/out',
      localDir: inbox,
      retries: 2,
    });
    const pulled = await jobs.run('pull', { sleep: restart, onProgress: cutAt('pull') });
    assert.equal(pulled.status, 'ok', pulled.error ?? '');
    assert.equal(pulled.attempts, 2);
    assert.ok(pulled.files[0]!.resumedFrom > 0);
    assert.equal(pulled.files[0]!.verified, 'check-file');
    assert.equal(await sha256File(join(inbox, 'statement.bin')), pullExpected);

    await jobs.add({
      name: 'push',
      partner: 'bank',
      direction: 'push',
      remoteDir: '/in',
      localDir: outbox,
      retries: 2,
    });
    const pushed = await jobs.run('push', { sleep: restart, onProgress: cutAt('push') });
    assert.equal(pushed.status, 'ok', pushed.error ?? '');
    assert.equal(pushed.attempts, 2);
    assert.ok(pushed.files[0]!.resumedFrom > 0, `resumed from ${pushed.files[0]!.resumedFrom}`);
    assert.equal(pushed.files[0]!.verified, 'check-file');
    assert.equal(await sha256File(join(home, 'in', 'invoice.bin')), pushExpected);
    assert.deepEqual(await readdir(join(home, 'in')), ['invoice.bin']);
    assert.deepEqual(killed, ['pull', 'push']);
    assert.ok((await readFile(join(home, 'in', 'invoice.bin'))).length === size);
  } finally {
    await kill(server);
    await fx.close();
  }
});
