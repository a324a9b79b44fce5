// md5sum/sha1sum/sha256sum/sha512sum over SSH exec with real OpenSSH, compared line for line with coreutils, and
// rclone's sftp backend verifying content end to end through them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { FerryEvent, FileOperationEvent } from '../src/events/types.js';
import { commonSshOptions, run, sshRun } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;
let server: TestServer;
let work: string;
let local: string;
const events: FerryEvent[] = [];
const PW = 'hash-pw-7781';

before(async () => {
  // maxHashBytes at its minimum, so that a 2 MiB sparse file shows the bound without hashing much.
  server = await startTestServer({ config: { maxHashBytes: MiB } });
  server.running.context.events.subscribe((e) => {
    events.push(e);
  });
  await server.addUser('hana', { password: PW });
  await server.addUser('reader', { password: PW, perms: ['/=list'] });
  work = await mkdtemp(join(tmpdir(), 'ferry-hash-'));
  local = join(work, 'local');
  const home = await server.homeOf('hana');
  // The same tree in the home and in a local directory, so coreutils can be run on the local one and compared.
  for (const root of [home, local]) {
    await mkdir(join(root, 'sub dir'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'hello\n');
    await writeFile(join(root, 'sub dir', 'b c.bin'), Buffer.alloc(300_000, 7));
    await writeFile(join(root, 'empty'), '');
  }
  await writeFile(join(home, 'big.sparse'), '');
  await truncate(join(home, 'big.sparse'), 2 * MiB);
  await symlink('/etc/passwd', join(home, 'escape'));
  const readerHome = await server.homeOf('reader');
  await mkdir(readerHome, { recursive: true });
  await writeFile(join(readerHome, 'secret.txt'), 'not for reading\n');
});

after(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

const ssh = (command: string[], user = 'hana') => sshRun({ port: server.port, user, password: PW, command });

/** What coreutils prints for the same command run in the local copy of the home. */
const coreutils = (command: string, args: string[]) => run(command, args, { cwd: local });

describe('hash commands over ssh exec', () => {
  for (const command of ['md5sum', 'sha1sum', 'sha256sum', 'sha512sum']) {
    test(`${command} prints what coreutils prints`, async () => {
      const files = ['a.txt', 'sub dir/b c.bin', 'empty'];
      // OpenSSH joins the words with spaces; the quotes keep 'sub dir/b c.bin' one operand on the server.
      const remote = await ssh([command, 'a.txt', "'sub dir/b c.bin'", 'empty']);
      const expected = await coreutils(command, files);
      assert.equal(remote.code, 0, remote.stderr);
      assert.equal(remote.stdout, expected.stdout);
      assert.equal(remote.stdout.split('\n').length, 4);
    });
  }

  test('a missing file gets a coreutils error line and exit status 1; the other files are still hashed', async () => {
    const remote = await ssh(['sha256sum', 'a.txt', 'nope', 'empty']);
    const expected = await coreutils('sha256sum', ['a.txt', 'nope', 'empty']);
    assert.equal(remote.code, 1);
    assert.equal(expected.code, 1);
    assert.equal(remote.stdout, expected.stdout);
    assert.match(remote.stderr, /^sha256sum: nope: No such file or directory$/m);
    assert.equal(expected.stderr.trim(), 'sha256sum: nope: No such file or directory');
  });

  test('absolute paths and ~ are inside the home, as in SFTP', async () => {
    const remote = await ssh(['sha256sum', '/a.txt', '~/empty']);
    const expected = await coreutils('sha256sum', ['a.txt', 'empty']);
    assert.equal(remote.code, 0, remote.stderr);
    const [hexA, hexEmpty] = expected.stdout.split('\n').map((line) => line.split(' ')[0]);
    assert.equal(remote.stdout, `${hexA}  /a.txt\n${hexEmpty}  ~/empty\n`.replace('~/empty', '/empty'));
  });

  test('standard input is hashed when no file is named (the probe rclone sends)', async () => {
    const args = [
      ...commonSshOptions({ port: server.port, user: 'hana', password: PW }),
      '-p',
      String(server.port),
    ];
    const piped = await run('ssh', [...args, 'hana@127.0.0.1', 'sha256sum'], { password: PW, input: 'abc' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -\n');
    const empty = await run('ssh', [...args, 'hana@127.0.0.1', 'md5sum'], { password: PW, input: '' });
    assert.equal(empty.stdout, 'd41d8cd98f00b204e9800998ecf8427e  -\n');
  });

  test('nothing outside the home can be hashed: absolute host paths, .., symlinks out', async () => {
    for (const path of ['/etc/passwd', '../../../../etc/passwd', 'escape']) {
      const remote = await ssh(['sha256sum', path]);
      assert.equal(remote.code, 1, `${path}: ${remote.stdout}`);
      assert.equal(remote.stdout, '', path);
      assert.match(remote.stderr, /^sha256sum: .*: (No such file or directory|Permission denied)$/m, path);
    }
  });

  test('a user without download permission gets Permission denied', async () => {
    const remote = await ssh(['sha256sum', 'secret.txt'], 'reader');
    assert.equal(remote.code, 1);
    assert.equal(remote.stdout, '');
    assert.match(remote.stderr, /^sha256sum: secret\.txt: Permission denied$/m);
  });

  test('a directory is refused like coreutils refuses it', async () => {
    const remote = await ssh(['md5sum', "'sub dir'"]);
    assert.equal(remote.code, 1);
    assert.match(remote.stderr, /^md5sum: sub dir: Is a directory$/m);
  });

  test('a file larger than maxHashBytes is refused before it is read, and the refusal is audited', async () => {
    const from = events.length;
    const remote = await ssh(['sha256sum', 'big.sparse', 'a.txt']);
    assert.equal(remote.code, 1);
    assert.match(remote.stderr, /^sha256sum: big\.sparse: File too large to hash on this server$/m);
    assert.match(remote.stdout, /^[0-9a-f]{64} {2}a\.txt$/m);
    const checksums = events
      .slice(from)
      .filter((e): e is FileOperationEvent => e.type === 'file-op' && e.operation === 'checksum');
    assert.ok(checksums.some((e) => e.path === '/big.sparse' && !e.ok && e.protocol === 'ssh'));
    assert.ok(
      checksums.some((e) => e.path === '/a.txt' && e.ok && e.protocol === 'ssh' && e.username === 'hana'),
    );
    const stored = await server.running.context.store.audit.page({ actions: ['checksum'], limit: 50 });
    assert.ok(stored.some((entry) => entry.path === '/a.txt' && entry.protocol === 'ssh'));
  });

  test('every other command is still refused: shells, options, operators, other programs', async () => {
    for (const command of [
      ['echo', 'hi'],
      ['cat', 'a.txt'],
      ['sha256sum', '-c', 'a.txt'],
      ['sha256sum', 'a.txt;', 'id'],
      ['sha256sum', '$(id)'],
      ['sha256sum', 'a.txt', '|', 'sh'],
      ['md5', '-r', 'a.txt'],
    ]) {
      const remote = await ssh(command);
      assert.notEqual(remote.code, 0, command.join(' '));
      assert.match(remote.stderr, /exec request failed/, command.join(' '));
      assert.equal(remote.stdout, '', command.join(' '));
    }
  });
});

describe('rclone verifies content through the hash commands', () => {
  /** rclone with an sftp remote `ferry:` configured through RCLONE_CONFIG_FERRY_* and a config file of its own. */
  const rclone = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const obscured = (await execFileAsync('rclone', ['obscure', PW])).stdout.trim();
    const config = join(work, 'rclone.conf');
    const env = {
      ...process.env,
      RCLONE_CONFIG_FERRY_TYPE: 'sftp',
      RCLONE_CONFIG_FERRY_HOST: '127.0.0.1',
      RCLONE_CONFIG_FERRY_PORT: String(server.port),
      RCLONE_CONFIG_FERRY_USER: 'hana',
      RCLONE_CONFIG_FERRY_PASS: obscured,
    };
    // rclone saves what it detected (shell type, hash commands) into its config file: a fresh one per run.
    await writeFile(config, '');
    try {
      const r = await execFileAsync('rclone', ['--config', config, ...args], { env, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? null, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };

  test('rclone check --download=false reports the hashes matched, and a same-size change as a difference', async () => {
    const match = await rclone(['check', '--download=false', '--one-way', '-vv', local, 'ferry:']);
    assert.equal(match.code, 0, match.stderr);
    assert.match(match.stderr, /Hash command accepted/);
    assert.match(match.stderr, /Using md5 for hash comparisons/);
    assert.match(match.stderr, /a\.txt: md5 = b1946ac92492d2347c6235b4d2611184 OK/);
    assert.match(match.stderr, /0 differences found/);
    assert.match(match.stderr, /3 matching files/);
    assert.doesNotMatch(match.stderr, /could not check hash/);

    // Same size, other bytes: only a hash can tell.
    await writeFile(join(local, 'a.txt'), 'HELLO\n');
    try {
      const differ = await rclone(['check', '--download=false', '--one-way', local, 'ferry:']);
      assert.notEqual(differ.code, 0);
      assert.match(differ.stderr, /a\.txt: md5 differ/);
      assert.match(differ.stderr, /1 differences found/);
    } finally {
      await writeFile(join(local, 'a.txt'), 'hello\n');
    }
  });

  test('rclone sync --checksum uploads only what differs and verifies it with the server hash', async () => {
    const source = join(work, 'sync-src');
    await mkdir(source, { recursive: true });
    await writeFile(join(source, 'one.txt'), 'one\n');
    await writeFile(join(source, 'two.txt'), 'two\n');
    const first = await rclone(['sync', '--checksum', '-v', source, 'ferry:synced']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /one\.txt: Copied \(new\)/);
    // Same sizes and the same times, new content in one: --checksum finds it by hash alone.
    await writeFile(join(source, 'two.txt'), 'TWO\n');
    const second = await rclone(['sync', '--checksum', '-vv', source, 'ferry:synced']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /one\.txt: md5 = [0-9a-f]{32} OK/);
    assert.match(second.stderr, /two\.txt: Copied \(replaced existing\)/);
    assert.doesNotMatch(second.stderr, /one\.txt: Copied/);
    const after = await ssh(['md5sum', 'synced/two.txt']);
    const expected = (await run('md5sum', ['two.txt'], { cwd: source })).stdout.split(' ')[0];
    assert.equal(after.stdout, `${expected}  synced/two.txt\n`);
  });
});
