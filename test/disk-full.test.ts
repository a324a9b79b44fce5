// A full disk under a real server and the real OpenSSH sftp: uploads fail visibly, leave nothing behind, and the audit trail gates uploads.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Client, type SFTPWrapper } from 'ssh2';
import { systemActor } from '../src/admin/actor.js';
import { type ClientKey, makeClientKey, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const PASSWORD = 'disk-full-password';

/** Mounting needs root (and a kernel that lets this container mount tmpfs); without it the tests are skipped. */
async function mountTmpfs(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await execFileAsync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
}

async function unmount(dir: string): Promise<void> {
  try {
    await execFileAsync('umount', [dir]);
  } catch {
    // Something still holds a file open there: detach it now, the kernel frees it when the last user goes.
    await execFileAsync('umount', ['-l', dir]).catch(() => {});
  }
}

const skip: string | undefined = await (async () => {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a small tmpfs to fill';
  const probe = await mkdtemp(join(tmpdir(), 'ferry-mount-probe-'));
  try {
    await mountTmpfs(probe, '1m');
    await unmount(probe);
    return undefined;
  } catch (err) {
    return `mounting a tmpfs failed (${(err as Error).message.split('\n')[0]})`;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
})();

/** Writes a file until the filesystem is full (ENOSPC). */
async function fill(path: string): Promise<void> {
  const file = await open(path, 'w');
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) await file.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    await file.close();
  }
}

function connect(port: number, username: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username, password: PASSWORD });
  });
}

function openSftp(client: Client): Promise<SFTPWrapper> {
  return promisify(client.sftp.bind(client))();
}

/** Writes `data` through one handle the way a client does, in 32 KiB requests; returns the first error, if any. */
async function writeThrough(
  sftp: SFTPWrapper,
  path: string,
  data: Buffer,
): Promise<{ write?: Error; close?: Error }> {
  const handle = await promisify(sftp.open.bind(sftp))(path, 'w');
  let write: Error | undefined;
  for (let offset = 0; offset < data.length && write === undefined; offset += 32 * 1024) {
    const length = Math.min(32 * 1024, data.length - offset);
    write = await new Promise<Error | undefined>((resolve) =>
      sftp.write(handle, data, offset, length, offset, (err) => resolve(err ?? undefined)),
    );
  }
  const close = await new Promise<Error | undefined>((resolve) =>
    sftp.close(handle, (err) => resolve(err ?? undefined)),
  );
  return { ...(write ? { write } : {}), ...(close ? { close } : {}) };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let work: string;
let key: ClientKey;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-diskfull-'));
  await writeFile(join(work, 'big.bin'), randomBytes(10 * 1000 * 1000));
  await writeFile(join(work, 'small.txt'), 'fits easily\n');
  key = await makeClientKey(work, 'ed25519');
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

for (const uploadMode of ['atomic', 'direct'] as const) {
  describe(`a 10 MB upload to a 5 MiB home (${uploadMode} uploads)`, () => {
    let server: TestServer;
    let aliceHome: string;
    const alice = () => ({ port: server.port, user: 'alice', identity: key.privatePath, cwd: work });
    const bob = () => ({ port: server.port, user: 'bob', identity: key.privatePath, cwd: work });

    before(async () => {
      if (skip) return;
      server = await startTestServer({ config: { uploadMode } });
      await server.addUser('alice', { publicKeys: [key.publicText], password: PASSWORD });
      await server.addUser('bob', { publicKeys: [key.publicText] });
      aliceHome = await server.homeOf('alice');
      await mountTmpfs(aliceHome, '5m');
    });

    after(async () => {
      if (skip) return;
      // The close cannot remove the data dir while the home is a mount point in it: removed again once unmounted.
      await server?.close().catch(() => {});
      if (aliceHome) await unmount(aliceHome);
      if (server) await rm(server.dataDir, { recursive: true, force: true });
    });

    test('fails for the OpenSSH client and leaves neither the file nor a partial', { skip }, async () => {
      const r = await sftpBatch({ ...alice(), batch: 'put big.bin\n' });
      assert.notEqual(r.code, 0, `the upload must fail:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, /big\.bin/);
      assert.deepEqual(await readdir(aliceHome), [], 'no file under its final name, no partial');
    });

    test('answers the failing WRITE and the CLOSE with "No space left on device"', { skip }, async () => {
      const client = await connect(server.port, 'alice');
      try {
        const result = await writeThrough(
          await openSftp(client),
          '/big.bin',
          await readFile(join(work, 'big.bin')),
        );
        assert.match(result.write?.message ?? '', /^No space left on device$/);
        assert.match(result.close?.message ?? '', /^No space left on device$/);
        assert.equal((result.close as { code?: number } | undefined)?.code, 4, 'SSH_FX_FAILURE');
      } finally {
        client.end();
      }
      assert.deepEqual(await readdir(aliceHome), []);
    });

    test('an upload into an OpenPGP encrypt folder fails the same way and leaves nothing there', {
      skip,
    }, async () => {
      // Unsigned binary messages on local storage are sealed and written by a thread of their own
      // (native/aead/src/seipd.c): its failed pwritev must fail the upload like the event loop's writes do.
      const admin = server.running.context.admin;
      const keyName = `disk-full-${uploadMode}`;
      await mkdir(join(aliceHome, 'in'));
      await admin.keys.pgp.generate(systemActor(), { name: keyName, email: 'disk-full@example.com' });
      await admin.users.set(systemActor(), { name: 'alice', pgp: [`/in=encrypt:${keyName}`] });
      try {
        const r = await sftpBatch({ ...alice(), batch: 'put big.bin /in/big.bin\n' });
        assert.notEqual(r.code, 0, `the upload must fail:\n${r.stdout}\n${r.stderr}`);
        assert.match(r.stderr, /big\.bin/);
        assert.deepEqual(await readdir(join(aliceHome, 'in')), [], 'no message, no partial');
      } finally {
        await admin.users.set(systemActor(), { name: 'alice', pgp: ['/in=none'] });
        await rm(join(aliceHome, 'in'), { recursive: true, force: true });
      }
    });

    test('the server goes on serving: other users, and the same user once the space is back', {
      skip,
    }, async () => {
      const other = await sftpBatch({ ...bob(), batch: 'put small.txt\nget small.txt small.copy\n' });
      assert.equal(other.code, 0, other.stderr);
      assert.equal(await readFile(join(work, 'small.copy'), 'utf8'), 'fits easily\n');
      const same = await sftpBatch({ ...alice(), batch: 'put small.txt\n' });
      assert.equal(same.code, 0, same.stderr);
      assert.deepEqual(await readdir(aliceHome), ['small.txt']);
    });
  });
}

describe('an audit store that cannot write', () => {
  let server: TestServer;
  let dataDir: string;
  let homes: string;
  const alice = () => ({ port: server.port, user: 'alice', identity: key.privatePath, cwd: work });

  before(async () => {
    if (skip) return;
    dataDir = await mkdtemp(join(tmpdir(), 'ferry-auditfull-'));
    await mountTmpfs(dataDir, '24m');
    // The homes have room of their own: only the database (ferry.db and its WAL) runs out of space.
    homes = join(dataDir, 'homes');
    await mountTmpfs(homes, '16m');
    server = await startTestServer({ config: { dataDir } });
    await server.addUser('alice', { publicKeys: [key.publicText], password: PASSWORD });
    const ok = await sftpBatch({ ...alice(), batch: 'put small.txt before.txt\n' });
    assert.equal(ok.code, 0, ok.stderr);
  });

  after(async () => {
    if (skip) return;
    await server?.close().catch(() => {});
    if (homes) await unmount(homes);
    if (dataDir) {
      await unmount(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('refuses uploads with a clear message and reports the process degraded', { skip }, async () => {
    const health = server.running.context.health;
    assert.equal(health.report().status, 'healthy');
    await fill(join(dataDir, 'filler'));
    // A login writes audit records (connect, auth): they cannot be committed now.
    const client = await connect(server.port, 'alice');
    try {
      await waitFor(() => !health.isHealthy('audit'), 'the audit store to be reported degraded');
      const report = health.report();
      assert.equal(report.status, 'degraded');
      assert.match(report.reason ?? '', /^audit: audit store cannot write: .+/);

      const sftp = await openSftp(client);
      const refused = await promisify(sftp.open.bind(sftp))('/refused.txt', 'w').then(
        () => undefined,
        (err: Error) => err,
      );
      assert.equal(refused?.message, 'Refused: the audit trail cannot be written');
      // Downloads go on: reading changes nothing the trail must vouch for.
      const before = await promisify(sftp.readFile.bind(sftp))('/before.txt');
      assert.equal(String(before), 'fits easily\n');
    } finally {
      client.end();
    }
    const r = await sftpBatch({ ...alice(), batch: 'put small.txt refused.txt\n' });
    assert.notEqual(r.code, 0, 'the OpenSSH client sees the upload fail');
    const names = await readdir(join(homes, 'alice'));
    assert.deepEqual(names, ['before.txt'], 'nothing was created: no file, no partial');
  });

  test('takes uploads again once the store can write', { skip }, async () => {
    const health = server.running.context.health;
    await rm(join(dataDir, 'filler'));
    // The next login's records commit, and the writer reports the store recovered.
    const r = await sftpBatch({ ...alice(), batch: 'ls\n' });
    assert.equal(r.code, 0, r.stderr);
    await waitFor(() => health.isHealthy('audit'), 'the audit store to recover');
    const again = await sftpBatch({ ...alice(), batch: 'put small.txt after.txt\n' });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(health.report().status, 'healthy');
  });
});
