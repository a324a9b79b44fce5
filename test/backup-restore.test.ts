// A backup of a running server taken while OpenSSH clients upload, restored into a new data dir that then serves.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runFerry } from './helpers/cli.js';
import { makeClientKey, sftpBatch } from './helpers/openssh.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-backup-'));
});
after(() => rm(work, { recursive: true, force: true }));

function ferry(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry(args, input);
}

/** `ferry serve` as its own process on a free port; resolves once it listens. */
async function serve(dataDir: string): Promise<{ port: number; child: ChildProcess; output: () => string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '2'],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent', FERRY_ALLOW_LIST: '127.0.0.1' } },
  );
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', () => reject(new Error(`ferry serve exited: ${out}`)));
  });
  return { port, child, output: () => out };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

describe('backup and restore', () => {
  const source = () => join(work, 'source');
  let server: Awaited<ReturnType<typeof serve>>;
  let key: Awaited<ReturnType<typeof makeClientKey>>;
  const users = [
    { name: 'alice', password: 'alice-pw-1' },
    { name: 'bob', password: 'bob-pw-2' },
  ];

  before(async () => {
    key = await makeClientKey(work, 'ed25519');
    const init = await ferry(['init', '--data-dir', source()]);
    assert.equal(init.code, 0, init.stderr);
    for (const u of users) {
      const r = await ferry(
        ['users', 'add', u.name, '--password-stdin', '--data-dir', source()],
        `${u.password}\n`,
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const r = await ferry(['users', 'add', 'carol', '--public-key', key.publicPath, '--data-dir', source()]);
    assert.equal(r.code, 0, r.stderr);
    server = await serve(source());
  });
  after(() => stop(server.child));

  test('a backup taken while uploads run restores into a data dir whose audit trail verifies and where every user logs in', async () => {
    const payload = join(work, 'payload.bin');
    await writeFile(payload, Buffer.alloc(256 * 1024, 0x5a));
    let uploading = true;
    let uploads = 0;
    // Two clients upload in a loop, each upload a session with its audit records, until the backups are done.
    const loops = users.map(async (u) => {
      for (let i = 0; uploading; i++) {
        const r = await sftpBatch({
          port: server.port,
          user: u.name,
          password: u.password,
          batch: `put ${payload} /f-${i}.bin\n`,
        });
        assert.equal(r.code, 0, r.stderr);
        uploads++;
      }
    });
    try {
      while (uploads < 4) await new Promise((r) => setTimeout(r, 100));
      const withKey = await ferry([
        'backup',
        '--to',
        join(work, 'with-key.tar.gz'),
        '--include-master-key',
        '--data-dir',
        source(),
      ]);
      assert.equal(withKey.code, 0, withKey.stderr);
      assert.match(withKey.stderr, /warning: this backup contains the master key/);
      const uploadsBetween = uploads;
      while (uploads < uploadsBetween + 2) await new Promise((r) => setTimeout(r, 100));
      const withoutKey = await ferry(['backup', '--to', join(work, 'no-key.tar.gz'), '--data-dir', source()]);
      assert.equal(withoutKey.code, 0, withoutKey.stderr);
      assert.match(withoutKey.stdout, /the master key is not in the backup/);
      assert.doesNotMatch(withoutKey.stderr, /warning/);
    } finally {
      uploading = false;
      await Promise.all(loops);
    }
    assert.ok(uploads >= 6, `uploads ran during the backups (${uploads})`);
    assert.equal((await stat(join(work, 'no-key.tar.gz'))).mode & 0o777, 0o600);

    // Restored with the master key in the backup.
    const restoredA = join(work, 'restored-a');
    let r = await ferry(['restore', join(work, 'with-key.tar.gz'), '--data-dir', restoredA]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /master key restored to .* it opens the 3 active host key\(s\)/);
    // Restored without it: the restore says what to do, and the operator copies the original key.
    const restoredB = join(work, 'restored-b');
    r = await ferry(['restore', join(work, 'no-key.tar.gz'), '--data-dir', restoredB]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the backup holds no master key: before starting Ferry, copy the original one/);
    assert.deepEqual((await readdir(restoredB)).sort(), ['ferry.db', 'homes']);
    await copyFile(join(source(), 'master.key'), join(restoredB, 'master.key'));

    // Both backups and both restores are in the trails.
    const admin = async (dir: string) =>
      (await ferry(['audit', 'query', '--action', 'admin', '--json', '--data-dir', dir])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { detail: { command: string; changes?: Record<string, unknown> } });
    const backups = (await admin(source())).filter((r) => r.detail.command === 'backup');
    assert.deepEqual(
      backups.map((r) => r.detail.changes?.masterKeyIncluded),
      [true, false],
    );
    for (const dir of [restoredA, restoredB]) {
      assert.equal((await admin(dir)).at(-1)?.detail.command, 'restore');
    }

    for (const dir of [restoredA, restoredB]) {
      const verify = await ferry(['audit', 'verify', '--data-dir', dir]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /audit trail verified: \d+ record\(s\)/);
      const restored = await serve(dir);
      try {
        assert.match(restored.output(), /host key loaded/, 'the backed-up host keys, not new ones');
        assert.doesNotMatch(restored.output(), /created user 'admin'/);
        for (const u of users) {
          const login = await sftpBatch({
            port: restored.port,
            user: u.name,
            password: u.password,
            batch: 'pwd\n',
          });
          assert.equal(login.code, 0, `${u.name}: ${login.stderr}`);
        }
        const login = await sftpBatch({
          port: restored.port,
          user: 'carol',
          identity: key.privatePath,
          batch: 'pwd\n',
        });
        assert.equal(login.code, 0, `carol: ${login.stderr}`);
      } finally {
        await stop(restored.child);
      }
    }
  });

  test('restore refuses a non-empty target, a damaged backup and a file that is not one', async () => {
    const backup = join(work, 'small.tar.gz');
    assert.equal((await ferry(['backup', '--to', backup, '--data-dir', source()])).code, 0);
    let r = await ferry(['backup', '--to', backup, '--data-dir', source()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists; choose another name or pass --force/);

    const busy = join(work, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'something'), 'x');
    r = await ferry(['restore', backup, '--data-dir', busy]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to restore into .*busy: it is not empty/);
    assert.deepEqual(await readdir(busy), ['something']);

    const archive = await readFile(backup);
    await writeFile(join(work, 'truncated.tar.gz'), archive.subarray(0, archive.length - 100));
    r = await ferry(['restore', join(work, 'truncated.tar.gz'), '--data-dir', join(work, 'never')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is truncated/);
    // One byte of the store changed: tar and gzip are fine, the manifest's SHA-256 is not.
    const tar = gunzipSync(archive);
    const at = tar.length - 1024 - 100;
    tar[at] = tar[at]! ^ 0xff;
    await writeFile(join(work, 'altered.tar.gz'), gzipSync(tar));
    r = await ferry(['restore', join(work, 'altered.tar.gz'), '--data-dir', join(work, 'never')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ferry\.db in the backup does not match its manifest/);
    await assert.rejects(stat(join(work, 'never')), { code: 'ENOENT' }, 'nothing left behind');

    await writeFile(join(work, 'not-a-backup.bin'), Buffer.alloc(4096, 0x5a));
    r = await ferry(['restore', join(work, 'not-a-backup.bin'), '--data-dir', join(work, 'never')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a Ferry backup/);
    await assert.rejects(stat(join(work, 'never')), { code: 'ENOENT' }, 'nothing left behind');
  });

  test('backup and restore --help show defaults and an example', async () => {
    const backup = await ferry(['backup', '--help']);
    assert.match(backup.stdout, /default \.\/data/);
    assert.match(backup.stdout, /Example:\n {2}ferry backup --to/);
    const restore = await ferry(['restore', '--help']);
    assert.match(restore.stdout, /no\s+default/);
    assert.match(restore.stdout, /Example:\n {2}ferry restore/);
  });
});
