// Users moved between servers: an SFTPGo dump imported with its bcrypt and PBKDF2 password hashes (test vectors
// from PHP's and SFTPGo's documentation, not made by the code under test), logins through OpenSSH that upgrade
// them to argon2id, a Ferry export carried to a second data dir, and bad files refused whole.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { type Serving, serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';

/** PHP's password_hash documentation: bcrypt (cost 10) of 'rasmuslerdorf'. */
const BCRYPT = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';
/** SFTPGo's account documentation: pbkdf2-sha256, 150 000 iterations, salt E86a9YMX3zC7, of 'password'. */
const PBKDF2 = '$pbkdf2-sha256$150000$E86a9YMX3zC7$R5J62hsSq+pYw00hLLPKBbcGXmq7fj5+/M0IFoYtZbo=';

describe('users import and export', () => {
  const children: ChildProcess[] = [];
  let work: string;
  let dataDir: string;
  let serving: Serving | undefined;
  let port = 0;

  const exported = async (dir: string) => {
    const out = await runFerry(['users', 'export', '--data-dir', dir]);
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout) as { users: { name: string; passwordHash: string | null }[] };
  };
  const hashOf = async (dir: string, name: string) =>
    (await exported(dir)).users.find((u) => u.name === name)?.passwordHash;
  const login = (user: string, password: string, batch = 'pwd\n') =>
    sftpBatch({ port, user, password, batch, cwd: work });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ferry-import-'));
    dataDir = join(work, 'data');
    assert.equal((await runFerry(['init', '--data-dir', dataDir])).code, 0);
    const homes = join(work, 'old-homes');
    for (const name of ['bank1', 'pb']) await mkdir(join(homes, name, 'in'), { recursive: true });
    const dump = {
      version: 15,
      users: [
        {
          username: 'bank1',
          password: BCRYPT,
          status: 1,
          home_dir: join(homes, 'bank1'),
          permissions: { '/': ['list', 'download'], '/in': ['list', 'upload'] },
          upload_bandwidth: 512,
          filters: { denied_protocols: ['FTP'] },
          filesystem: { provider: 0 },
          groups: [{ name: 'banks', type: 1 }],
          virtual_folders: [{ name: 'shared', virtual_path: '/in/shared' }],
        },
        {
          username: 'pb',
          password: PBKDF2,
          status: 1,
          home_dir: join(homes, 'pb'),
          permissions: { '/': ['*'] },
        },
        { username: 'off', password: PBKDF2, status: 0, permissions: { '/': ['*'] } },
        { username: 's3user', password: PBKDF2, filesystem: { provider: 1 } },
      ],
      groups: [
        {
          name: 'banks',
          description: 'partner banks',
          user_settings: {
            permissions: { '/out': ['list', 'download'] },
            filters: { denied_protocols: ['HTTP'] },
          },
          virtual_folders: [
            { name: 'shared', virtual_path: '/shared', quota_size: 1048576 },
            { name: 'ghost', virtual_path: '/ghost' },
          ],
        },
      ],
      folders: [
        { name: 'shared', mapped_path: join(work, 'shared'), description: 'shared files' },
        { name: 's3f', mapped_path: '', filesystem: { provider: 1 } },
      ],
    };
    await mkdir(join(work, 'shared'), { recursive: true });
    await writeFile(join(work, 'shared', 'hello.txt'), 'shared hello\n');
    await writeFile(join(work, 'dump.json'), JSON.stringify(dump));
  });

  after(async () => {
    await serving?.stop();
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  test('a dry run says what would change and changes nothing', async () => {
    const dry = await runFerry([
      'users',
      'import',
      join(work, 'dump.json'),
      '--dry-run',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^SFTPGo dump$/m);
    assert.match(dry.stdout, /^created would be 3: bank1, pb, off$/m);
    assert.match(dry.stdout, /^not imported: user s3user: storage provider 1/m);
    assert.match(dry.stdout, /^groups: created would be 1: banks; updated would be 0; unchanged 0$/m);
    assert.match(
      dry.stdout,
      /^not imported: group banks: virtual folder ghost \(not a local folder of the dump\)$/m,
    );
    assert.match(dry.stdout, /^not imported: folder s3f: storage provider 1/m);
    assert.match(dry.stdout, /^folders: created would be 1: shared; updated would be 0; unchanged 0$/m);
    assert.equal(await hashOf(dataDir, 'bank1'), undefined);
  });

  test('imported bcrypt and PBKDF2 users log in with OpenSSH; the login re-hashes with argon2id', async () => {
    const imported = await runFerry([
      'users',
      'import',
      join(work, 'dump.json'),
      '--json',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.deepEqual(JSON.parse(imported.stdout).created, ['bank1', 'pb', 'off']);
    assert.equal(await hashOf(dataDir, 'bank1'), BCRYPT, 'kept as it was until the first login');
    // Started after the import: a serving process confines itself (Landlock) to the homes it knew at start.
    const { serving: s, match } = await serveFerry(
      dataDir,
      children,
      [],
      /SFTP listening on 127\.0\.0\.1:(\d+)/,
    );
    serving = s;
    port = Number(match[1]);

    assert.notEqual((await login('bank1', 'not-the-password')).code, 0);
    assert.equal(await hashOf(dataDir, 'bank1'), BCRYPT, 'a wrong password changes nothing');
    await writeFile(join(work, 'note.txt'), 'hello');
    const ok = await login('bank1', 'rasmuslerdorf', 'put note.txt in/note.txt\nls in\n');
    assert.equal(ok.code, 0, ok.stderr);
    // The dump's per-folder permissions: the root is download-only.
    assert.notEqual((await login('bank1', 'rasmuslerdorf', 'put note.txt note.txt\n')).code, 0);
    assert.match((await hashOf(dataDir, 'bank1')) ?? '', /^\$argon2id\$/);
    assert.equal(
      (await login('bank1', 'rasmuslerdorf')).code,
      0,
      'the argon2id hash verifies the same password',
    );

    assert.equal((await login('pb', 'password')).code, 0);
    assert.match((await hashOf(dataDir, 'pb')) ?? '', /^\$argon2id\$/);
    assert.notEqual((await login('off', 'password')).code, 0, 'status 0: disabled');

    const show = await runFerry(['users', 'show', 'bank1', '--data-dir', dataDir]);
    assert.match(show.stdout, /^protocols: {3}sftp, scp, ssh, https$/m, 'FTP denied: no ftps');
    assert.match(show.stdout, /^bandwidth: {3}upload 524288 B\/s/m, '512 KB/s');
    // The dump's group came along, with bank1 in it (SFTPGo type 1: primary) and its folder permissions inherited.
    const effective = JSON.parse(
      (await runFerry(['users', 'show', 'bank1', '--effective', '--json', '--data-dir', dataDir])).stdout,
    );
    assert.deepEqual(effective.groups, { primary: 'banks', secondary: [] });
    assert.deepEqual(effective.permissions['/out'], ['list', 'download']);
    // The dump's local folder: mounted for bank1 (permissions of /in, its nearest entry) and for the group (none
    // named: read-only), with the mount's quota on the folder.
    assert.deepEqual(
      effective.folders.map((f: { name: string; virtualPath: string; quotaBytes: number }) => [
        f.name,
        f.virtualPath,
        f.quotaBytes,
      ]),
      [
        ['shared', '/in/shared', 1048576],
        ['shared', '/shared', 1048576],
      ],
    );
    assert.deepEqual(effective.permissions['/in/shared'], ['list', 'upload']);
    assert.deepEqual(effective.permissions['/shared'], ['list', 'download']);
    const got = await login('bank1', 'rasmuslerdorf', 'get /shared/hello.txt got-shared.txt\n');
    assert.equal(got.code, 0, got.stderr);
    assert.equal(await readFile(join(work, 'got-shared.txt'), 'utf8'), 'shared hello\n');
    assert.notEqual((await login('bank1', 'rasmuslerdorf', 'put note.txt /shared/note.txt\n')).code, 0);
  });

  test('a file with one bad user is refused whole, with one line naming it', async () => {
    const cases: [string, unknown, RegExp][] = [
      [
        'md5crypt',
        { username: 'new1', password: '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/' },
        /user 1 \(new1\): password hashes of scheme '1' are not supported/,
      ],
      [
        'bcrypt cost 31',
        { username: 'new1', password: BCRYPT.replace('$10$', '$31$') },
        /bcrypt cost 31 is outside 4\.\.15/,
      ],
      ['plain text', { username: 'new1', password: 'hunter2' }, /not a hash Ferry knows/],
      [
        'path escape',
        { username: 'new1', permissions: { '/../etc': ['*'] } },
        /must be absolute, without '\.\.'/,
      ],
      ['bad name', { username: '../root' }, /invalid user name/],
    ];
    for (const [label, bad, message] of cases) {
      const file = join(work, 'bad.json');
      await writeFile(file, JSON.stringify({ users: [bad, { username: 'fine', password: PBKDF2 }] }));
      const out = await runFerry(['users', 'import', file, '--data-dir', dataDir]);
      assert.equal(out.code, 1, label);
      assert.match(out.stderr, message, label);
      assert.equal(out.stderr.trim().split('\n').length, 1, `${label}: one line`);
      assert.equal(await hashOf(dataDir, 'fine'), undefined, `${label}: nothing imported`);
    }
    const notJson = await runFerry(['users', 'import', join(work, 'note.txt'), '--data-dir', dataDir]);
    assert.match(notJson.stderr, /not JSON/);
  });

  test('an export (mode 0600) carried to a new data dir gives the same users, and their passwords work there', async () => {
    const file = join(work, 'users.json');
    const out = await runFerry(['users', 'export', '--output', file, '--data-dir', dataDir]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const second = join(work, 'second');
    assert.equal((await runFerry(['init', '--data-dir', second])).code, 0);
    const imported = await runFerry(['users', 'import', file, '--update', '--data-dir', second]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^Ferry export$/m);
    const strip = (doc: { users: unknown[]; groups?: unknown[] }) => ({
      users: doc.users,
      groups: doc.groups,
    });
    assert.deepEqual(strip(await exported(second)), strip(await exported(dataDir)));
  });
});
