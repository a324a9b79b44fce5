// Transfer quotas with real OpenSSH sftp and scp, curl over FTPS (and paramiko for the status text): an upload past the day's
// allowance fails and leaves nothing, a download is cut at the month's allowance and then refused, the usage is in
// the store and holds across a restart, and the CLI sets, inherits and shows the limits with their usage.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { addUser, homeDirOf } from '../src/auth/user-admin.js';
import { loadConfig } from '../src/config/load.js';
import { type RunningFerry, startFerry } from '../src/server.js';
import { Secret } from '../src/util/secret.js';
import { runFerry } from './helpers/cli.js';
import { scpRun, sftpBatch } from './helpers/openssh.js';

const execFileAsync = promisify(execFile);
const KiB = 1024;
const PW = 'transfer-pw-2718';

/** `ferry serve` in this process on `dataDir` (kept between starts, so the store is the same). */
function serve(dataDir: string): Promise<RunningFerry> {
  const config = loadConfig({
    env: {},
    flags: {
      dataDir,
      listen: '127.0.0.1',
      sftpPort: 0,
      logLevel: process.env.FERRY_LOG_LEVEL ?? 'silent',
      allowList: '127.0.0.1',
      http: { listen: '127.0.0.1:0' },
      ftps: { port: 0 },
    },
  });
  return startFerry(config, () => {});
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

/** Paramiko uploads (or downloads) one file and prints the server's status message on failure. */
async function paramiko(port: number, user: string, action: 'put' | 'get', local: string, remote: string) {
  const script = [
    'import sys, paramiko',
    't = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))',
    't.connect(username=sys.argv[2], password=sys.argv[3])',
    's = paramiko.SFTPClient.from_transport(t)',
    'try:',
    '    if sys.argv[4] == "put":',
    '        f = s.open(sys.argv[6], "wb")',
    '        f.write(open(sys.argv[5], "rb").read())',
    '        f.close()',
    '    else:',
    '        s.get(sys.argv[6], sys.argv[5])',
    '    print("done")',
    'except IOError as e:',
    '    print("error:", e)',
    't.close()',
  ].join('\n');
  const { stdout } = await execFileAsync('/usr/bin/python3', [
    '-c',
    script,
    String(port),
    user,
    PW,
    action,
    local,
    remote,
  ]);
  return stdout.trim();
}

describe('transfer quotas over SFTP and SCP', () => {
  let work: string;
  let dataDir: string;
  let server: RunningFerry | undefined;
  let home: string;
  const sftp = (batch: string, user = 'tq') =>
    sftpBatch({ port: server!.port, user, password: PW, batch, cwd: work });
  const usage = async () => (await server!.context.store.transferUsage.usage('tq', new Date())).day;
  /** The usage once the server is done with writes still in flight when the client gave up (two equal reads). */
  const settledUsage = async () => {
    let last = await usage();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const now = await usage();
      if (JSON.stringify(now) === JSON.stringify(last)) return now;
      last = now;
    }
    return last;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ferry-transfer-quota-'));
    dataDir = join(work, 'data');
    await mkdir(join(work, 'local'));
    await writeFile(join(work, '60k.bin'), Buffer.alloc(60 * KiB, 1));
    await writeFile(join(work, '30k.bin'), Buffer.alloc(30 * KiB, 2));
    await writeFile(join(work, '4k.bin'), Buffer.alloc(4 * KiB, 3));
    server = await serve(dataDir);
    const users = server.context.store.users;
    await addUser(users, { name: 'tq', password: new Secret(PW), publicKeysText: [] });
    home = homeDirOf((await users.findByName('tq'))!, server.context.paths.homes);
    await mkdir(home, { recursive: true });
    // Set through the CLI while the server runs, as an operator would (the store is shared).
    const set = await runFerry([
      'users',
      'set',
      'tq',
      '--transfer-quota-upload',
      '100KiB/day',
      '--transfer-quota-download',
      '50KiB/month',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^transfer: {4}upload 100 KiB\/day, download 50 KiB\/month, total none$/m);
  });

  after(async () => {
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('an upload past the day’s allowance fails and leaves nothing', async () => {
    const first = await sftp('put 60k.bin a.bin\n');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await usage(), { uploaded: 60 * KiB, downloaded: 0 });

    const over = await sftp('put 60k.bin b.bin\n');
    assert.notEqual(over.code, 0, 'sftp exits non-zero');
    // OpenSSH prints the status code's text; the message is shown by clients that print it (paramiko, below).
    assert.match(over.stderr, /write remote "\/b\.bin": Failure/);
    assert.deepEqual(
      await settledListing(home, ['a.bin']),
      ['a.bin'],
      'neither b.bin nor its partial is left',
    );
    // OpenSSH sends the 60 KiB in one write (the server's limits@openssh.com allow it): refused whole, nothing
    // counted.
    assert.deepEqual(await settledUsage(), { uploaded: 60 * KiB, downloaded: 0 });
  });

  test('mid-file: the write that passes the allowance fails the upload; paramiko shows the status text', async () => {
    // Paramiko writes 32 KiB at a time: the first fits in the 40 KiB left, the second does not.
    const out = await paramiko(server!.port, 'tq', 'put', join(work, '60k.bin'), '/p.bin');
    assert.equal(out, 'error: transfer quota exceeded: the account may upload 100 KiB/day');
    assert.deepEqual(await settledListing(home, ['a.bin']), ['a.bin'], 'the partial is removed');
    // The bytes that arrived count (they were moved), the refused ones do not.
    assert.deepEqual(await settledUsage(), { uploaded: 60 * KiB + 32 * KiB, downloaded: 0 });
  });

  test('legacy SCP: the upload past the allowance fails with the same message and leaves nothing', async () => {
    const scp = await scpRun({
      port: server!.port,
      user: 'tq',
      password: PW,
      args: ['-O', join(work, '60k.bin'), 'tq@127.0.0.1:/c.bin'],
    });
    assert.notEqual(scp.code, 0);
    assert.match(scp.stderr, /transfer quota exceeded: the account may upload 100 KiB\/day/);
    assert.deepEqual(await settledListing(home, ['a.bin']), ['a.bin']);
  });

  test('usage survives a restart: the CLI shows it, and the new server keeps counting from it', async () => {
    const { uploaded } = await settledUsage();
    await server!.stop();
    server = undefined;
    const show = await runFerry(['users', 'show', 'tq', '--effective', '--data-dir', dataDir]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(
      show.stdout,
      new RegExp(
        `^transfer upload: {3}${uploaded} of 102400 bytes used today \\(UTC\\), limit 100 KiB/day {2}\\[user\\]$`,
        'm',
      ),
    );
    assert.match(show.stdout, /^transfer total: {4}unlimited {2}\[default\]$/m);
    server = await serve(dataDir);
    assert.deepEqual(await usage(), { uploaded, downloaded: 0 }, 'read back from the store');
    // 8 KiB are left: 4 KiB fit, 30 KiB do not.
    assert.equal((await sftp('put 4k.bin d.bin\n')).code, 0);
    const over = await sftp('put 30k.bin e.bin\n');
    assert.notEqual(over.code, 0);
    assert.deepEqual(await settledListing(home, ['a.bin', 'd.bin']), ['a.bin', 'd.bin']);
    assert.equal(
      (await settledUsage()).uploaded,
      uploaded + 4 * KiB,
      'the 4 KiB counted, the refusal nothing',
    );
  });

  test('FTPS goes through the same core: the upload past the allowance gets 552 with the message', async () => {
    // curl resumes the control connection's TLS session on the data connection, as Ferry requires.
    const curl = await execFileAsync('curl', [
      '-sS',
      '-v',
      '--ssl-reqd',
      '-k',
      '-u',
      `tq:${PW}`,
      '-T',
      join(work, '30k.bin'),
      `ftp://127.0.0.1:${server!.ftps!.port}/f.bin`,
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.notEqual(curl.code, 0);
    assert.match(curl.stderr, /< 552 transfer quota exceeded: the account may upload 100 KiB\/day/);
    assert.deepEqual(await settledListing(home, ['a.bin', 'd.bin']), ['a.bin', 'd.bin']);
  });

  test('a download is cut at the month’s allowance, then refused', async () => {
    const local = join(work, 'local');
    const got = await sftp(`get a.bin ${join(local, 'a.bin')}\n`);
    assert.notEqual(got.code, 0, 'the 60 KiB download stops at 50 KiB');
    assert.equal((await settledUsage()).downloaded, 50 * KiB, 'exactly the allowance was sent');
    const size = await stat(join(local, 'a.bin')).then(
      (s) => s.size,
      () => 0,
    );
    assert.ok(size <= 50 * KiB, `at most the allowance arrived (${size})`);
    const out = await paramiko(server!.port, 'tq', 'get', join(local, 'd.bin'), '/d.bin');
    assert.equal(out, 'error: transfer quota exceeded: the account may download 50 KiB/month');
    assert.equal((await usage()).downloaded, 50 * KiB);
  });

  test('groups carry transfer quotas their members inherit; a bad value is one clear line and changes nothing', async () => {
    const add = await runFerry([
      'groups',
      'add',
      'partners',
      '--transfer-quota-total',
      '1GiB/month',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(
      (await runFerry(['users', 'set', 'tq', '--group', 'partners', '--data-dir', dataDir])).code,
      0,
    );
    const show = await runFerry(['users', 'show', 'tq', '--effective', '--data-dir', dataDir]);
    assert.match(
      show.stdout,
      /^transfer total: {4}\d+ of 1073741824 bytes used this month \(UTC\), limit 1 GiB\/month {2}\[group partners\]$/m,
    );
    const group = await runFerry(['groups', 'show', 'partners', '--data-dir', dataDir]);
    assert.match(
      group.stdout,
      /^transfer quota: upload no default, download no default, total 1 GiB\/month$/m,
    );
    const bad = await runFerry([
      'users',
      'set',
      'tq',
      '--transfer-quota-upload',
      '10XB/day',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /--transfer-quota-upload must be SIZE\/day or SIZE\/month/);
    const cleared = await runFerry([
      'users',
      'set',
      'tq',
      '--transfer-quota-upload',
      'none',
      '--data-dir',
      dataDir,
    ]);
    assert.match(cleared.stdout, /^transfer: {4}upload none, download 50 KiB\/month, total none$/m);
    const json = JSON.parse(
      (await runFerry(['users', 'show', 'tq', '--json', '--data-dir', dataDir])).stdout,
    );
    assert.deepEqual(json.transferQuotas, { download: { bytes: 51200, period: 'month' } });
  });
});
