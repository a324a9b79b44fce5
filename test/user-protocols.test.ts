// Allowed protocols per user with real clients: `ferry users add/set --protocols` limits a user to some of sftp, scp,
// ssh (hash commands), https (web client) and ftps. A refused protocol fails like a wrong password (no hint), with
// an auth event naming the protocol; a user without the setting may use every one; bad input changes nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { FerryEvent } from '../src/events/types.js';
import { runFerry } from './helpers/cli.js';
import { scpRun, sftpBatch, sshRun } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const PW = 'protocols-pw-4711';
const FAILED = 'Wrong user name, password or one-time code.';

/** Python's ftplib over explicit TLS: the login's answer (or the server's refusal) and a listing when it worked. */
const FTPS_LOGIN = `
import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
f = ftplib.FTP_TLS(context=ctx)
f.connect('127.0.0.1', int(sys.argv[1]))
try:
    print(f.login(sys.argv[2], sys.argv[3]))
except ftplib.error_perm as e:
    print(e)
`;

describe('allowed protocols per user', () => {
  let server: TestServer;
  let work: string;
  let web: string;
  const events: FerryEvent[] = [];
  const ferry = (args: string[], stdin?: string) => runFerry([...args, '--data-dir', server.dataDir], stdin);
  const sftp = (user: string) => sftpBatch({ port: server.port, user, password: PW, batch: 'pwd\n' });
  const scp = (user: string) =>
    scpRun({
      port: server.port,
      user,
      password: PW,
      args: ['-O', join(work, 'up.txt'), `remote:${user}-scp.txt`],
    });
  const hash = (user: string) =>
    sshRun({ port: server.port, user, password: PW, command: ['sha256sum', `${user}-scp.txt`] });
  const ftps = async (user: string, password = PW) =>
    (
      await execFileAsync('python3', ['-c', FTPS_LOGIN, String(server.running.ftps!.port!), user, password], {
        timeout: 30_000,
      })
    ).stdout.trim();

  /** A curl sign-in with its own cookie jar: status, body and the jar (for the requests that follow). */
  const curlLogin = async (user: string, password = PW) => {
    const jar = join(work, `jar-${user}-${Math.random().toString(36).slice(2)}`);
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
    const form = await curl([`${web}/files/login`]);
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    const login = await curl([
      '--data-urlencode',
      `_csrf=${token}`,
      '--data-urlencode',
      `username=${user}`,
      '--data-urlencode',
      `password=${password}`,
      `${web}/files/login`,
    ]);
    return { ...login, curl };
  };
  const authResults = (from: number, user: string) =>
    events
      .slice(from)
      .filter((e) => e.type === 'session' && e.phase === 'auth' && e.username === user)
      .map((e) => (e.type === 'session' ? String(e.detail?.result) : ''));

  before(async () => {
    server = await startTestServer({ config: { ftps: { port: 0 } } });
    web = `http://127.0.0.1:${server.running.httpPort}`;
    server.running.context.events.subscribe((e) => {
      events.push(e);
    });
    work = await mkdtemp(join(tmpdir(), 'ferry-protocols-'));
    await writeFile(join(work, 'up.txt'), 'protocols\n');
  });
  after(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('users add/set --protocols: shown by show and list --json; a bad name changes nothing', async () => {
    for (const [name, protocols] of [
      ['webonly', 'https'],
      ['sftponly', 'sftp'],
      ['mixed', 'SFTP, scp,https,sftp'],
    ] as const) {
      const added = await ferry(
        ['users', 'add', name, '--password-stdin', '--protocols', protocols],
        `${PW}\n`,
      );
      assert.equal(added.code, 0, added.stderr);
    }
    assert.equal((await ferry(['users', 'add', 'everyone', '--password-stdin'], `${PW}\n`)).code, 0);
    const show = await ferry(['users', 'show', 'mixed']);
    assert.match(show.stdout, /^protocols: {3}sftp, scp, https$/m);
    assert.match((await ferry(['users', 'show', 'everyone'])).stdout, /^protocols: {3}all$/m);
    const list = JSON.parse((await ferry(['users', 'list', '--json'])).stdout) as {
      name: string;
      protocols: string[];
    }[];
    assert.deepEqual(list.find((u) => u.name === 'webonly')?.protocols, ['https']);
    assert.deepEqual(list.find((u) => u.name === 'everyone')?.protocols, []);

    const bad = await ferry(['users', 'set', 'mixed', '--protocols', 'sftp,gopher']);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /unknown protocol 'gopher'/);
    const badAdd = await ferry(['users', 'add', 'nobody', '--password-stdin', '--protocols', ''], `${PW}\n`);
    assert.notEqual(badAdd.code, 0);
    assert.equal(await server.running.context.store.users.findByName('nobody'), undefined);
    assert.deepEqual((await server.running.context.store.users.findByName('mixed'))?.protocols, [
      'sftp',
      'scp',
      'https',
    ]);
  });

  test('OpenSSH sftp is refused for a user allowed only https, like a wrong password, with the reason audited', async () => {
    const from = events.length;
    const refused = await sftp('webonly');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Permission denied/);
    assert.ok(authResults(from, 'webonly').includes('protocol sftp/scp/ssh not allowed'), 'an auth event');
    let recorded = false;
    for (let i = 0; i < 50 && !recorded; i++) {
      const audit = await server.running.context.store.audit.page({ actions: ['auth'], limit: 200 });
      recorded = audit.some((e) => e.user === 'webonly' && e.reason === 'protocol sftp/scp/ssh not allowed');
      if (!recorded) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(recorded, 'an audit record naming the protocol');
  });

  test('scp and hash commands are refused per channel for a user allowed only sftp, who still uses sftp', async () => {
    const ok = await sftp('sftponly');
    assert.equal(ok.code, 0, ok.stderr);
    const from = events.length;
    const refused = await scp('sftponly');
    assert.notEqual(refused.code, 0);
    await assert.rejects(readFile(join(await server.homeOf('sftponly'), 'sftponly-scp.txt')));
    const hashed = await hash('sftponly');
    assert.notEqual(hashed.code, 0);
    assert.doesNotMatch(hashed.stdout, /[0-9a-f]{64}/);
    const results = authResults(from, 'sftponly');
    assert.ok(results.includes('protocol scp not allowed'), results.join());
    assert.ok(results.includes('protocol ssh not allowed'), results.join());
  });

  test('the web sign-in is refused for a user allowed only sftp, exactly like a wrong password', async () => {
    const wrong = await curlLogin('sftponly', 'not-the-password');
    const refused = await curlLogin('sftponly');
    assert.equal(refused.status, 401);
    assert.equal(refused.status, wrong.status);
    assert.ok(refused.body.includes(FAILED), refused.body);
    const from = events.length;
    await curlLogin('sftponly');
    assert.ok(authResults(from, 'sftponly').includes('protocol https not allowed'));
  });

  test('a web session ends on the next request once https is taken away, and works again with --protocols all', async () => {
    const signed = await curlLogin('everyone');
    assert.equal(signed.status, 303, signed.body);
    assert.equal((await signed.curl([`${web}/files/`])).status, 200);
    assert.equal((await ferry(['users', 'set', 'everyone', '--protocols', 'sftp,ftps'])).code, 0);
    const after = await signed.curl([`${web}/files/`]);
    assert.notEqual(after.status, 200);
    const restored = await ferry(['users', 'set', 'everyone', '--protocols', 'all']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^protocols: {3}all$/m);
  });

  test('FTPS login is refused for a user allowed only sftp, like a wrong password', async () => {
    const wrong = await ftps('sftponly', 'not-the-password');
    const from = events.length;
    const refused = await ftps('sftponly');
    assert.match(refused, /^530 /);
    assert.equal(refused, wrong);
    assert.ok(authResults(from, 'sftponly').includes('protocol ftps not allowed'));
  });

  test('a user without the setting uses sftp, scp, hash commands, the web client and FTPS', async () => {
    assert.equal((await sftp('everyone')).code, 0);
    const copied = await scp('everyone');
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(
      await readFile(join(await server.homeOf('everyone'), 'everyone-scp.txt'), 'utf8'),
      'protocols\n',
    );
    const hashed = await hash('everyone');
    assert.equal(hashed.code, 0, hashed.stderr);
    assert.match(hashed.stdout, /^[0-9a-f]{64} {2}everyone-scp\.txt$/m);
    assert.equal((await curlLogin('everyone')).status, 303);
    assert.match(await ftps('everyone'), /^230 /);
  });
});
