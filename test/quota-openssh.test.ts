// Disk quotas with real OpenSSH sftp and scp: the upload that would pass the quota fails and leaves nothing, usage
// follows overwrite/delete/rename, the CLI sets and shows it, and kill -9 during 20 uploads leaves it equal to the disk.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { FERRY_BIN, runFerry } from './helpers/cli.js';
import { commonSshOptions, scpRun, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const KiB = 1024;
const PW = 'quota-pw-3141';
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-quota-'));
  await writeFile(join(work, '60k.bin'), Buffer.alloc(60 * KiB, 1));
  await writeFile(join(work, '30k.bin'), Buffer.alloc(30 * KiB, 2));
  await writeFile(join(work, '10k.bin'), Buffer.alloc(10 * KiB, 3));
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** What the quota counts, read from the disk: regular files (partials included) and their bytes. */
async function diskUsage(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
    files++;
  }
  return { bytes, files };
}

/** The directory's names once they equal `expected` (within 5 s), else the last listing. */
async function settledListing(dir: string, expected: string[]): Promise<string[]> {
  let names: string[] = [];
  for (let i = 0; i < 50; i++) {
    names = (await readdir(dir)).sort();
    if (JSON.stringify(names) === JSON.stringify(expected)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return names;
}

describe('disk quota over SFTP and SCP', () => {
  let server: TestServer;
  let home: string;
  const usage = async (name = 'qa') => {
    const q = (await server.running.context.store.users.findByName(name))!.quota!;
    return { bytes: q.usedBytes, files: q.usedFiles };
  };
  /**
   * The usage once it stops changing: a failed upload's partial is unlinked first and its bytes and file given
   * back to the ledger just after, so a listing can already be settled while the counts are not.
   */
  const settledUsage = async (expected: { bytes: number; files: number }, name = 'qa') => {
    let now = await usage(name);
    for (let i = 0; i < 50 && JSON.stringify(now) !== JSON.stringify(expected); i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await usage(name);
    }
    return now;
  };
  const sftp = (batch: string, user = 'qa') =>
    sftpBatch({ port: server.port, user, password: PW, batch, cwd: work });

  before(async () => {
    server = await startTestServer();
    await server.addUser('qa', { password: PW });
    await server.addUser('qf', { password: PW });
    home = await server.homeOf('qa');
    await mkdir(home, { recursive: true });
    await mkdir(await server.homeOf('qf'), { recursive: true });
    // Set through the CLI, as an operator would, while the server runs (the store is shared).
    const set = await runFerry([
      'users',
      'set',
      'qa',
      '--quota-bytes',
      '100KiB',
      '--data-dir',
      server.dataDir,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^quota: {7}0 of 102400 bytes, 0 of unlimited files used$/m);
    const files = await runFerry(['users', 'set', 'qf', '--quota-files', '2', '--data-dir', server.dataDir]);
    assert.equal(files.code, 0, files.stderr);
  });

  after(async () => {
    await server?.close();
  });

  test('an upload that would pass the quota fails, with the message, and leaves no partial', async () => {
    const first = await sftp('put 60k.bin a.bin\n');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await usage(), { bytes: 60 * KiB, files: 1 });

    const over = await sftp('put 60k.bin b.bin\n');
    assert.notEqual(over.code, 0);
    assert.match(over.stderr, /quota exceeded|Failure/);
    assert.deepEqual((await readdir(home)).sort(), ['a.bin'], 'neither b.bin nor its partial is left');
    assert.deepEqual(await usage(), { bytes: 60 * KiB, files: 1 });
    assert.deepEqual(await diskUsage(home), await usage());
  });

  test('the status carries the message: paramiko shows "quota exceeded: …"', async () => {
    const script = [
      'import sys, paramiko',
      't = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))',
      't.connect(username="qa", password=sys.argv[2])',
      's = paramiko.SFTPClient.from_transport(t)',
      'try:',
      '    f = s.open("/p.bin", "wb")',
      '    f.write(open(sys.argv[3], "rb").read())',
      '    f.close()',
      '    print("uploaded")',
      'except IOError as e:',
      '    print("error:", e)',
      't.close()',
    ].join('\n');
    const { stdout } = await execFileAsync('/usr/bin/python3', [
      '-c',
      script,
      String(server.port),
      PW,
      join(work, '60k.bin'),
    ]);
    assert.equal(stdout.trim(), "error: quota exceeded: the account's disk quota is used up");
    assert.deepEqual(await settledListing(home, ['a.bin']), ['a.bin']);
    assert.deepEqual(await settledUsage({ bytes: 60 * KiB, files: 1 }), { bytes: 60 * KiB, files: 1 });
  });

  test('legacy SCP: the upload past the quota fails with "Disk quota exceeded" and leaves nothing', async () => {
    const scp = await scpRun({
      port: server.port,
      user: 'qa',
      password: PW,
      args: ['-O', join(work, '60k.bin'), 'qa@127.0.0.1:/c.bin'],
    });
    assert.notEqual(scp.code, 0);
    assert.match(scp.stderr, /Disk quota exceeded/);
    // scp exits on the error line; the server drops the partial as it ends the session, just after.
    assert.deepEqual(await settledListing(home, ['a.bin']), ['a.bin']);
    assert.deepEqual(await settledUsage({ bytes: 60 * KiB, files: 1 }), { bytes: 60 * KiB, files: 1 });
  });

  test('overwrite, rename over a file and delete give their bytes back', async () => {
    // Overwrite with a smaller file: 60 KiB become 30 KiB.
    assert.equal((await sftp('put 30k.bin a.bin\n')).code, 0);
    assert.deepEqual(await usage(), { bytes: 30 * KiB, files: 1 });
    // A second file, then renamed over the first: one file of 10 KiB remains.
    assert.equal((await sftp('put 10k.bin d.bin\n')).code, 0);
    assert.deepEqual(await usage(), { bytes: 40 * KiB, files: 2 });
    const renamed = await sftp('rename d.bin a.bin\n');
    // OpenSSH's sftp uses posix-rename@openssh.com, which replaces the target.
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.deepEqual(await usage(), { bytes: 10 * KiB, files: 1 });
    // Room again: 60 KiB fits next to 10 KiB.
    assert.equal((await sftp('put 60k.bin e.bin\n')).code, 0);
    assert.deepEqual(await usage(), { bytes: 70 * KiB, files: 2 });
    assert.equal((await sftp('rm a.bin\nrm e.bin\n')).code, 0);
    assert.deepEqual(await usage(), { bytes: 0, files: 0 });
    assert.deepEqual(await diskUsage(home), await usage());
  });

  test('a file-count quota refuses the file past it', async () => {
    const r = await sftp('put 10k.bin x1\nput 10k.bin x2\nput 10k.bin x3\n', 'qf');
    assert.notEqual(r.code, 0);
    const left = (await readdir(await server.homeOf('qf'))).sort();
    assert.deepEqual(left, ['x1', 'x2']);
    assert.deepEqual(await usage('qf'), { bytes: 20 * KiB, files: 2 });
  });

  test('users show and quota scan report usage; a bad size is one clear line and changes nothing', async () => {
    await writeFile(join(home, 'placed-by-hand'), Buffer.alloc(5000));
    const scan = await runFerry(['quota', 'scan', 'qa', '--data-dir', server.dataDir]);
    assert.equal(scan.code, 0, scan.stderr);
    assert.equal(scan.stdout, 'qa: 5000 bytes in 1 files\n');
    const show = await runFerry(['users', 'show', 'qa', '--data-dir', server.dataDir]);
    assert.match(show.stdout, /^quota: {7}5000 of 102400 bytes, 1 of unlimited files used$/m);
    const bad = await runFerry(['users', 'set', 'qa', '--quota-bytes', '12XB', '--data-dir', server.dataDir]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /--quota-bytes must be a size/);
    const json = JSON.parse(
      (await runFerry(['users', 'show', 'qa', '--json', '--data-dir', server.dataDir])).stdout,
    );
    assert.deepEqual(json.quota, { limitBytes: 102400, limitFiles: 0, usedBytes: 5000, usedFiles: 1 });
    await rm(join(home, 'placed-by-hand'));
  });
});

describe('kill -9 during 20 concurrent uploads', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** `ferry serve` in its own process; resolves with its port once it listens. */
  function serve(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
    const child = spawn(
      process.execPath,
      [FERRY_BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0'],
      // 20 clients of one address log in at once: on a loaded machine more than maxUnauthenticatedPerAddress (10)
      // of them were still logging in together, the rest were refused, and too few uploads were left in flight
      // when the server was killed (CI failed once so). Loopback is allow-listed, which lifts the per-address limits.
      {
        env: { ...process.env, FERRY_LOG_LEVEL: 'silent', FERRY_ALLOW_LIST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
      const collect = (d: Buffer) => {
        out += d.toString();
        const m = /SFTP listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ child, port: Number(m[1]) });
        }
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}):\n${out}`));
      });
    });
  }

  test('after restart the stored usage equals what is on disk', { timeout: 120_000 }, async () => {
    const dataDir = join(work, 'crash-data');
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    assert.equal(
      (await runFerry(['users', 'add', 'crash', '--password-stdin', '--data-dir', dataDir], PW)).code,
      0,
    );
    const set = await runFerry(['users', 'set', 'crash', '--quota-bytes', '1GiB', '--data-dir', dataDir]);
    assert.equal(set.code, 0, set.stderr);
    await writeFile(join(work, '4m.bin'), Buffer.alloc(4 * 1024 * KiB, 9));

    const first = await serve(dataDir);
    // 20 uploads at 4 Mbit/s each (sftp -l): every one is mid-file when the server is killed.
    const uploads = Array.from({ length: 20 }, (_, i) => {
      const args = [
        ...commonSshOptions({ port: first.port, user: 'crash', password: PW }),
        '-P',
        String(first.port),
        '-l',
        '4000',
        '-b',
        '-',
        'crash@127.0.0.1',
      ];
      const child = spawn('sshpass', ['-e', 'sftp', ...args], {
        cwd: work,
        env: { ...process.env, SSHPASS: PW },
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      children.push(child);
      child.stdin.end(`put 4m.bin up-${i}.bin\n`);
      return new Promise((resolve) => child.on('exit', resolve));
    });
    const home = join(dataDir, 'homes', 'crash');
    // Wait until most uploads have their partial on the disk, then kill. One more than the 15 asserted below:
    // the test removes one partial by hand before counting.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const names = await readdir(home).catch(() => [] as string[]);
      if (names.length >= 16 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    await Promise.all(uploads);

    // A change the dead server never counted (as a crash between a file's removal and its count leaves):
    // one partial removed by hand. Only the rescan at start can know.
    const partial = (await readdir(home)).find((n) => n.startsWith('.ferry-part.'));
    assert.ok(partial, 'an upload was cut off mid-file');
    await rm(join(home, partial));
    const onDisk = await diskUsage(home);
    assert.ok(onDisk.files >= 15, `uploads were in progress: ${JSON.stringify(onDisk)}`);
    assert.ok(onDisk.bytes < 20 * 4 * 1024 * KiB, 'killed before all completed');

    const second = await serve(dataDir);
    const show = await runFerry(['users', 'show', 'crash', '--json', '--data-dir', dataDir]);
    const quota = JSON.parse(show.stdout).quota;
    assert.deepEqual({ bytes: quota.usedBytes, files: quota.usedFiles }, onDisk);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});
