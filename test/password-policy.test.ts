// Password policy with real clients: the CLI and the REST API refuse a password that breaks a rule (one line
// naming it) or repeats one of the last N; a flagged or too old password is changed at login through RFC 4252's
// password change request, driven here in OpenSSH's own sftp over a pty; FTPS refuses such a login with a reply
// saying where to change it, and the web client's sign-in shows a change form first.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runFerry } from './helpers/cli.js';
import { commonSshOptions, makeClientKey, sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const POLICY = { minLength: 10, minClasses: 3, history: 2, maxAgeDays: 30 };
const POLICY_ENV = {
  FERRY_PASSWORD_POLICY_MIN_LENGTH: '10',
  FERRY_PASSWORD_POLICY_MIN_CLASSES: '3',
  FERRY_PASSWORD_POLICY_HISTORY: '2',
  FERRY_PASSWORD_POLICY_MAX_AGE_DAYS: '30',
};

/**
 * Runs OpenSSH's interactive sftp on a pty (the stdlib pty module of /usr/bin/python3): answers each prompt the
 * `script` names, in order, then prints everything the terminal showed. Exit status: sftp's.
 */
const PTY_DRIVER = String.raw`
import json, os, pty, re, sys, time
argv, script = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen = b''
def expect(pattern, timeout=20):
    global seen
    deadline = time.time() + timeout
    while time.time() < deadline:
        if re.search(pattern.encode(), seen):
            return True
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return False
        if not chunk:
            return False
        seen += chunk
    return False
for pattern, answer in script:
    start = len(seen)
    if not expect(pattern):
        break
    # Whatever matched is consumed, so a prompt shown twice is answered twice.
    m = re.search(pattern.encode(), seen)
    seen_done = seen[:m.end()]
    rest = seen[m.end():]
    sys.stdout.write(seen_done.decode(errors='replace'))
    seen = rest
    os.write(fd, (answer + '\n').encode())
end = time.time() + 10
while time.time() < end:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
sys.stdout.write(seen.decode(errors='replace'))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

async function sftpOnPty(
  port: number,
  user: string,
  script: [string, string][],
  login: { identity?: string; options?: string[] } = {},
) {
  const argv = [
    'sftp',
    ...commonSshOptions({
      port,
      user,
      password: '',
      ...login,
      options: [...(login.options ?? []), 'LogLevel=INFO'],
    }),
    '-P',
    String(port),
    `${user}@127.0.0.1`,
  ];
  try {
    const { stdout } = await execFileAsync(
      '/usr/bin/python3',
      ['-c', PTY_DRIVER, JSON.stringify(argv), JSON.stringify(script)],
      { timeout: 60_000 },
    );
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, out: e.stdout ?? '' };
  }
}

describe('password policy', () => {
  let server: TestServer;
  const ferry = (args: string[], input = '') =>
    runFerry([...args, '--data-dir', server.dataDir], input, POLICY_ENV);
  const login = (user: string, password: string) =>
    sftpBatch({ port: server.port, user, password, batch: 'pwd\n' });

  before(async () => {
    server = await startTestServer({ config: { passwordPolicy: POLICY, ftps: { port: 0 } } });
  });
  after(async () => {
    await server?.close();
  });

  test('users add and passwd refuse a password that breaks a rule or repeats one of the last two', async () => {
    const short = await ferry(['users', 'add', 'pp', '--password-stdin'], 'Ab1-short\n');
    assert.notEqual(short.code, 0);
    assert.equal(short.stderr.trim().split('\n').length, 1, short.stderr);
    assert.match(
      short.stderr,
      /password refused: it must have at least 10 characters \(passwordPolicy\.minLength\)/,
    );
    const plain = await ferry(['users', 'add', 'pp', '--password-stdin'], 'alllowercaseletters\n');
    assert.match(plain.stderr, /must mix at least 3 of lower case, upper case, digits and other characters/);
    assert.equal((await ferry(['users', 'show', 'pp'])).code, 1, 'no user was created');

    const added = await ferry(['users', 'add', 'pp', '--password-stdin'], 'First-pass-123\n');
    assert.equal(added.code, 0, added.stderr);
    const same = await ferry(['users', 'passwd', 'pp', '--password-stdin'], 'First-pass-123\n');
    assert.notEqual(same.code, 0);
    assert.match(
      same.stderr,
      /password refused: it is one of the last 2 passwords of pp \(passwordPolicy\.history\)/,
    );
    assert.equal((await ferry(['users', 'passwd', 'pp', '--password-stdin'], 'Second-pass-456\n')).code, 0);
    const back = await ferry(['users', 'passwd', 'pp', '--password-stdin'], 'First-pass-123\n');
    assert.match(back.stderr, /one of the last 2 passwords/, 'the one before the current counts too');
    assert.equal((await ferry(['users', 'passwd', 'pp', '--password-stdin'], 'Third-pass-789\n')).code, 0);
    // Two later, the first may come back: only the last two are kept.
    assert.equal((await ferry(['users', 'passwd', 'pp', '--password-stdin'], 'First-pass-123\n')).code, 0);
    assert.equal((await login('pp', 'First-pass-123')).code, 0);
    const history = await server.running.context.store.users.recentPasswordHashes('pp', 10);
    assert.equal(history.length, 2, 'only the last N hashes are kept');
    assert.ok(history.every((h) => h.startsWith('$argon2id$')));
  });

  test('a flagged password is changed at the next SSH login (RFC 4252 §8), and the new one must meet the policy', async () => {
    const flagged = await ferry(['users', 'set', 'pp', '--must-change-password']);
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.match(flagged.stdout, /must be changed at the next login/);
    // sshpass cannot answer the change request: the plain batch login is refused.
    assert.notEqual((await login('pp', 'First-pass-123')).code, 0);

    const run = await sftpOnPty(server.port, 'pp', [
      ['password:', 'First-pass-123'],
      ['must be changed[\\s\\S]*old password:', 'First-pass-123'],
      ['new password:', 'Short-1'],
      ['Retype [^\\n]*new password:', 'Short-1'],
      // Refused: asked again, the refusal shown as the server's prompt.
      ['at least 10 characters[\\s\\S]*old password:', 'First-pass-123'],
      ['new password:', 'Changed-pass-2026'],
      ['Retype [^\\n]*new password:', 'Changed-pass-2026'],
      ['sftp>', 'pwd'],
      ['Remote working directory: /', 'bye'],
    ]);
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /Your password must be changed before you log in\./);
    assert.match(run.out, /password refused: it must have at least 10 characters/);
    assert.match(run.out, /Remote working directory: \//);
    const u = await server.running.context.store.users.findByName('pp');
    assert.equal(u?.mustChangePassword, false, 'the flag is cleared');
    assert.equal((await login('pp', 'Changed-pass-2026')).code, 0, 'the new password logs in');
    assert.notEqual((await login('pp', 'First-pass-123')).code, 0, 'the old one does not');
  });

  test('two factors with the password first: the due change happens when the password is given, then the key finishes the login', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pp-2fa-'));
    try {
      const key = await makeClientKey(dir, 'ed25519');
      const added = await ferry(
        [
          'users',
          'add',
          'tf',
          '--password-stdin',
          '--public-key',
          key.publicPath,
          '--require',
          'password,publickey',
        ],
        'TF-first-pass-1\n',
      );
      assert.equal(added.code, 0, added.stderr);
      assert.equal((await ferry(['users', 'set', 'tf', '--must-change-password'])).code, 0);
      // OpenSSH, password first: the change request, then the key finishes the login.
      const run = await sftpOnPty(
        server.port,
        'tf',
        [
          ['password:', 'TF-first-pass-1'],
          ['must be changed[\\s\\S]*old password:', 'TF-first-pass-1'],
          ['new password:', 'TF-changed-pass-2'],
          ['Retype [^\\n]*new password:', 'TF-changed-pass-2'],
          ['sftp>', 'pwd'],
          ['Remote working directory: /', 'bye'],
        ],
        {
          identity: key.privatePath,
          options: ['PreferredAuthentications=password,publickey', 'PubkeyAuthentication=yes'],
        },
      );
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /Remote working directory: \//);
      const u = await server.running.context.store.users.findByName('tf');
      assert.equal(u?.mustChangePassword, false, 'the flag is cleared');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a password past maxAgeDays must be changed too; FTPS refuses it with a reply saying where', async () => {
    const users = server.running.context.store.users;
    await users.update('pp', { passwordChangedAt: new Date(Date.now() - 31 * 86_400_000) });
    assert.notEqual((await login('pp', 'Changed-pass-2026')).code, 0);
    const show = await server.running.context.admin.users.show('pp');
    assert.equal(show.mustChangePassword, false, 'expiry is by age, not by the flag');
    // FTP cannot change a password: Python's ftplib over explicit TLS gets the reply naming where to do it.
    const ftps = [
      'import ftplib, ssl, sys',
      'f = ftplib.FTP_TLS(context=ssl._create_unverified_context())',
      'f.connect("127.0.0.1", int(sys.argv[1]))',
      'try:',
      '    f.login("pp", sys.argv[2])',
      '    print("logged in")',
      'except ftplib.error_perm as e:',
      '    print(e)',
    ].join('\n');
    const { stdout } = await execFileAsync('/usr/bin/python3', [
      '-c',
      ftps,
      String(server.running.ftps!.port),
      'Changed-pass-2026',
    ]);
    assert.equal(
      stdout.trim(),
      '530 Password expired: change it over SSH (sftp or ssh) or in the web client, then log in again',
    );
    const run = await sftpOnPty(server.port, 'pp', [
      ['password:', 'Changed-pass-2026'],
      ['older than 30 days[\\s\\S]*old password:', 'Changed-pass-2026'],
      ['new password:', 'Changed-pass-2026'],
      ['Retype [^\\n]*new password:', 'Changed-pass-2026'],
      ['one of the last 2 passwords[\\s\\S]*old password:', 'Changed-pass-2026'],
      ['new password:', 'Fresh-pass-2027'],
      ['Retype [^\\n]*new password:', 'Fresh-pass-2027'],
      ['sftp>', 'bye'],
    ]);
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /Your password is older than 30 days and must be changed\./);
    assert.ok((await users.findByName('pp'))!.passwordChangedAt!.getTime() > Date.now() - 60_000);
    assert.equal((await login('pp', 'Fresh-pass-2027')).code, 0);
    const { stdout: after } = await execFileAsync('/usr/bin/python3', [
      '-c',
      ftps,
      String(server.running.ftps!.port),
      'Fresh-pass-2027',
    ]);
    assert.equal(after.trim(), 'logged in', 'FTPS logs in once the password was changed');
  });

  test('the web client’s sign-in asks a flagged user for a new password first (curl, as a form post)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pw-web-'));
    try {
      const jar = join(dir, 'jar');
      const web = `http://127.0.0.1:${server.running.httpPort}`;
      const curl = async (args: string[]) => {
        const { stdout } = await execFileAsync('curl', [
          '-sS',
          '-b',
          jar,
          '-c',
          jar,
          '-w',
          '\n%{http_code}',
          ...args,
        ]);
        const at = stdout.lastIndexOf('\n');
        return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
      };
      const tokenOf = (body: string) => /name="_csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
      const post = (fields: Record<string, string>) =>
        curl([
          ...Object.entries(fields).flatMap(([k, v]) => ['--data-urlencode', `${k}=${v}`]),
          `${web}/files/login`,
        ]);
      assert.equal((await ferry(['users', 'set', 'pp', '--must-change-password'])).code, 0);
      const form = await curl([`${web}/files/login`]);
      const asked = await post({ _csrf: tokenOf(form.body), username: 'pp', password: 'Fresh-pass-2027' });
      assert.equal(asked.status, 403);
      assert.match(asked.body, /<h1>Change your password<\/h1>/);
      assert.match(asked.body, /Your password must be changed before you sign in\./);
      assert.doesNotMatch(asked.body, /Fresh-pass-2027/, 'the password is not echoed back');
      const differ = await post({
        _csrf: tokenOf(asked.body),
        username: 'pp',
        password: 'Fresh-pass-2027',
        newPassword: 'Web-changed-2028',
        newPassword2: 'Web-changed-2029',
      });
      assert.match(differ.body, /The new passwords differ\./);
      const weak = await post({
        _csrf: tokenOf(differ.body),
        username: 'pp',
        password: 'Fresh-pass-2027',
        newPassword: 'web',
        newPassword2: 'web',
      });
      assert.match(weak.body, /password refused: it must have at least 10 characters/);
      const wrong = await post({
        _csrf: tokenOf(weak.body),
        username: 'pp',
        password: 'not-the-password-1',
        newPassword: 'Web-changed-2028',
        newPassword2: 'Web-changed-2028',
      });
      assert.equal(wrong.status, 401, 'the current password is checked again');
      const changed = await post({
        _csrf: tokenOf(wrong.body),
        username: 'pp',
        password: 'Fresh-pass-2027',
        newPassword: 'Web-changed-2028',
        newPassword2: 'Web-changed-2028',
      });
      assert.equal(changed.status, 303, changed.body);
      const files = await curl([`${web}/files/`]);
      assert.equal(files.status, 200);
      assert.equal((await login('pp', 'Web-changed-2028')).code, 0, 'SFTP takes the new password');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
