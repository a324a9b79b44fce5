// Real OpenSSH scp against a real Ferry: legacy `scp -O` both ways, -r, -p, refusals, and default (SFTP) scp.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256File } from './helpers/files.js';
import { scpRun, sshRun } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'scp-test-password';
// 2001-02-03T04:05:06Z: far from "now", so a kept mtime cannot be a coincidence.
const OLD_MTIME = 981_173_106;

let server: TestServer;
let work: string;
let home: string;
let readOnlyHome: string;

const alice = () => ({ port: server.port, user: 'alice', password: PASSWORD });

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-scp-'));
  await mkdir(join(work, 'tree', 'sub'), { recursive: true });
  // Bigger than one 256 KiB chunk and than the SSH window, so chunking and backpressure are exercised.
  await writeFile(join(work, 'big.bin'), randomBytes(3 * 1024 * 1024 + 17));
  await writeFile(join(work, 'tree', 'a.txt'), 'alpha\n');
  await writeFile(join(work, 'tree', 'sub', 'b.bin'), randomBytes(300_000));
  await writeFile(join(work, 'tree', 'empty'), '');
  await writeFile(join(work, 'old.txt'), 'kept times\n');
  await utimes(join(work, 'old.txt'), OLD_MTIME, OLD_MTIME);

  server = await startTestServer();
  await server.addUser('alice', { password: PASSWORD });
  await server.addUser('reader', { password: PASSWORD, perms: ['/=list,download'] });
  home = await server.homeOf('alice');
  readOnlyHome = await server.homeOf('reader');
  await mkdir(home, { recursive: true });
  await mkdir(readOnlyHome, { recursive: true });
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('legacy scp -O', () => {
  test('uploads a file byte for byte', async () => {
    const r = await scpRun({ ...alice(), args: ['-O', join(work, 'big.bin'), 'remote:big.bin'] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(join(home, 'big.bin')), await sha256File(join(work, 'big.bin')));
  });

  test('downloads a file byte for byte', async () => {
    await writeFile(join(home, 'report.bin'), randomBytes(1024 * 1024 + 3));
    const out = join(work, 'report.bin');
    const r = await scpRun({ ...alice(), args: ['-O', 'remote:report.bin', out] });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256File(out), await sha256File(join(home, 'report.bin')));
  });

  test('uploads and downloads a tree with -r', async () => {
    const up = await scpRun({ ...alice(), args: ['-O', '-r', join(work, 'tree'), 'remote:'] });
    assert.equal(up.code, 0, up.stderr);
    for (const file of ['a.txt', 'sub/b.bin', 'empty']) {
      assert.equal(
        await sha256File(join(home, 'tree', file)),
        await sha256File(join(work, 'tree', file)),
        file,
      );
    }
    const back = join(work, 'tree-back');
    const down = await scpRun({ ...alice(), args: ['-O', '-r', 'remote:tree', back] });
    assert.equal(down.code, 0, down.stderr);
    for (const file of ['a.txt', 'sub/b.bin', 'empty']) {
      assert.equal(await sha256File(join(back, file)), await sha256File(join(work, 'tree', file)), file);
    }
  });

  test('keeps the modification time with -p, both ways', async () => {
    const up = await scpRun({ ...alice(), args: ['-O', '-p', join(work, 'old.txt'), 'remote:old.txt'] });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(Math.floor((await stat(join(home, 'old.txt'))).mtimeMs / 1000), OLD_MTIME);
    const out = join(work, 'old-back.txt');
    const down = await scpRun({ ...alice(), args: ['-O', '-p', 'remote:old.txt', out] });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(Math.floor((await stat(out)).mtimeMs / 1000), OLD_MTIME);
  });

  test('reports a missing file the way OpenSSH does', async () => {
    const r = await scpRun({ ...alice(), args: ['-O', 'remote:no-such-file', join(work, 'never')] });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-such-file: No such file or directory/);
    assert.equal(await exists(join(work, 'never')), false);
  });

  test('refuses an upload where the user may only download', async () => {
    const r = await scpRun({
      port: server.port,
      user: 'reader',
      password: PASSWORD,
      args: ['-O', join(work, 'old.txt'), 'remote:old.txt'],
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Permission denied/);
    assert.equal(await exists(join(readOnlyHome, 'old.txt')), false);
  });

  test('never writes outside the home when the target climbs with ..', async () => {
    const name = `ferry-escape-${randomBytes(6).toString('hex')}`;
    const climb = `${'../'.repeat(12)}tmp/${name}`;
    await scpRun({ ...alice(), args: ['-O', join(work, 'old.txt'), `remote:${climb}`] });
    assert.equal(await exists(join('/tmp', name)), false);
    assert.equal(await exists(resolve(home, climb)), false);
  });

  test('never reads outside the home when the source climbs with ..', async () => {
    const out = join(work, 'passwd-copy');
    const r = await scpRun({ ...alice(), args: ['-O', `remote:${'../'.repeat(12)}etc/passwd`, out] });
    assert.notEqual(r.code, 0);
    assert.equal(await exists(out), false);
  });

  test('refuses an exec that would need a shell', async () => {
    const r = await sshRun({ ...alice(), command: ['scp -t "$(touch /tmp/pwned)"'] });
    assert.notEqual(r.code, 0);
    const shell = await sshRun({ ...alice(), command: ['ls'] });
    assert.notEqual(shell.code, 0);
  });
});

describe('default scp (SFTP protocol)', () => {
  test('uploads and downloads byte for byte', async () => {
    const up = await scpRun({ ...alice(), args: [join(work, 'big.bin'), 'remote:big-sftp.bin'] });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await sha256File(join(home, 'big-sftp.bin')), await sha256File(join(work, 'big.bin')));
    const out = join(work, 'big-sftp-back.bin');
    const down = await scpRun({ ...alice(), args: ['remote:big-sftp.bin', out] });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(await sha256File(out), await sha256File(join(work, 'big.bin')));
  });
});
