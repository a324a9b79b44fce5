// Chroot, per-folder permissions and atomic, resumable uploads as a user of OpenSSH sftp sees them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256File } from './helpers/files.js';
import { commonSshOptions, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let work: string;
let outside: string;

/** What sftp printed, without its own echo of the batch commands. */
const output = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => !l.startsWith('sftp>'))
    .join('\n');
const as = (user: string, batch: string[]) =>
  sftpBatch({ port: server.port, user, password: `${user}-pw`, batch: `${batch.join('\n')}\n`, cwd: work });

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-policy-'));
  outside = await mkdtemp(join(tmpdir(), 'ferry-outside-'));
  await writeFile(join(outside, 'secret.txt'), 'not yours\n');
  await writeFile(join(work, 'report.csv'), 'a,b\n1,2\n');
  server = await startTestServer();
  await server.addUser('dora', {
    password: 'dora-pw',
    perms: ['/=list,download', '/in=list,upload,create_dirs'],
  });
  await server.addUser('eve', { password: 'eve-pw' });
  const dora = await server.homeOf('dora');
  await mkdir(join(dora, 'in'), { recursive: true });
  await writeFile(join(dora, 'statement.txt'), 'balance 42\n');
  const eve = await server.homeOf('eve');
  await mkdir(eve, { recursive: true });
  await symlink(outside, join(eve, 'escape'));
  await symlink(join(outside, 'secret.txt'), join(eve, 'secret-link'));
});

after(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('per-folder permissions', () => {
  test('a read-only root refuses uploads, deletes and mkdir with Permission denied and changes nothing', async () => {
    for (const cmd of [
      'put report.csv /report.csv',
      'rm /statement.txt',
      'mkdir /new',
      'rename /statement.txt /x.txt',
      'chmod 600 /statement.txt',
    ]) {
      const r = await as('dora', [cmd]);
      assert.notEqual(r.code, 0, cmd);
      assert.match(r.stderr, /Permission denied/, cmd);
    }
    const home = await server.homeOf('dora');
    assert.deepEqual((await readdir(home)).sort(), ['in', 'statement.txt']);
    assert.equal(await readFile(join(home, 'statement.txt'), 'utf8'), 'balance 42\n');
  });

  test('downloads from the root and uploads into the inbox are allowed, deleting there is not', async () => {
    const r = await as('dora', [
      'get /statement.txt got.txt',
      'put report.csv /in/report.csv',
      'mkdir /in/2026',
      'ls -l /in',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(join(work, 'got.txt'), 'utf8'), 'balance 42\n');
    assert.equal(
      await sha256File(join(await server.homeOf('dora'), 'in', 'report.csv')),
      await sha256File(join(work, 'report.csv')),
    );
    const del = await as('dora', ['rm /in/report.csv']);
    assert.match(del.stderr, /Permission denied/);
  });
});

describe('the chroot', () => {
  test('.. and absolute paths never leave the home', async () => {
    const r = await as('eve', ['cd ../../../..', 'pwd', 'ls -a /..', 'put report.csv ../../../../evil.csv']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Remote working directory: \/\n/);
    assert.ok(
      (await readdir(await server.homeOf('eve'))).includes('evil.csv'),
      'the upload landed inside the home',
    );
    const passwd = await as('eve', ['get /../../../etc/passwd passwd.txt']);
    assert.notEqual(passwd.code, 0);
    await assert.rejects(stat(join(work, 'passwd.txt')));
  });

  test('symlinks that point out of the home are refused', async () => {
    for (const cmd of [
      'get /secret-link leak.txt',
      'get /escape/secret.txt leak.txt',
      'cd /escape',
      'ls /escape/secret.txt',
      'put report.csv /escape/planted.csv',
    ]) {
      const r = await as('eve', [cmd]);
      assert.notEqual(r.code, 0, cmd);
      assert.doesNotMatch(output(r.stdout), /secret/, cmd);
    }
    // The link itself may be listed; what it points to is never opened.
    for (const cmd of ['ls -l /escape', 'ls /escape/'])
      assert.doesNotMatch(output((await as('eve', [cmd])).stdout), /secret/, cmd);
    await assert.rejects(stat(join(work, 'leak.txt')));
    assert.deepEqual(await readdir(outside), ['secret.txt']);
  });
});

describe('atomic uploads', () => {
  test('an upload cut off mid-way never shows as a file; reput completes it byte for byte', async () => {
    const size = 6 * 1024 * 1024;
    await writeFile(join(work, 'large.bin'), randomBytes(size));
    const home = await server.homeOf('eve');
    // -l throttles to ~4 Mbit/s so the upload is still running when the client is killed.
    const child = spawn(
      'sshpass',
      [
        '-e',
        'sftp',
        ...commonSshOptions({ port: server.port, user: 'eve', password: 'eve-pw' }),
        '-P',
        String(server.port),
        '-l',
        '4000',
        '-b',
        '-',
        'eve@127.0.0.1',
      ],
      { cwd: work, env: { ...process.env, SSHPASS: 'eve-pw' }, stdio: ['pipe', 'ignore', 'ignore'] },
    );
    child.stdin.end('put large.bin /large.bin\n');
    const partial = join(home, '.ferry-part.large.bin');
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const s = await stat(partial).catch(() => undefined);
      if (s && s.size > 512 * 1024) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(stat(join(home, 'large.bin')), 'no file under the final name');
    const kept = (await stat(partial)).size;
    assert.ok(kept > 0 && kept < size, `partial of ${kept} bytes kept for resume`);

    const listing = await as('eve', ['ls -la /']);
    assert.doesNotMatch(listing.stdout, /ferry-part|large\.bin/);
    const getting = await as('eve', ['get /large.bin nope.bin']);
    assert.notEqual(getting.code, 0, 'the unfinished file cannot be downloaded');

    const resumed = await as('eve', ['reput large.bin /large.bin']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(await sha256File(join(home, 'large.bin')), await sha256File(join(work, 'large.bin')));
    await assert.rejects(stat(partial), 'the partial became the file');
  });
});
