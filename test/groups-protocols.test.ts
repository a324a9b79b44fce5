// A group's defaults reach every front end, not only SFTP: its protocols decide FTPS and web client sign-ins of its
// members (real Python ftplib over TLS and curl), and its folder permissions hold over FTPS; a change to the group
// applies at the members' next login.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runFerry } from './helpers/cli.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const execFileAsync = promisify(execFile);
const PW = 'group-protocols-pw-1618';

/** Python's ftplib over explicit TLS: the login's answer (or the server's refusal). */
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

describe("a group's defaults on FTPS and the web client", () => {
  let server: TestServer;
  let work: string;
  let web: string;
  const ferry = async (...args: string[]) => {
    const r = await runFerry([...args, '--data-dir', server.dataDir]);
    assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ftps = async () =>
    (
      await execFileAsync('python3', ['-c', FTPS_LOGIN, String(server.running.ftps!.port!), 'gina', PW], {
        timeout: 30_000,
      })
    ).stdout.trim();
  const webSignIn = async () => {
    const jar = join(work, `jar-${Math.random().toString(36).slice(2)}`);
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
      return Number(stdout.slice(stdout.lastIndexOf('\n') + 1));
    };
    const { stdout: form } = await execFileAsync('curl', ['-sS', '-c', jar, `${web}/files/login`]);
    const token = /name="_csrf" value="([^"]+)"/.exec(form)?.[1] ?? '';
    return curl([
      '--data-urlencode',
      `_csrf=${token}`,
      '--data-urlencode',
      'username=gina',
      '--data-urlencode',
      `password=${PW}`,
      `${web}/files/login`,
    ]);
  };
  const sftp = () => sftpBatch({ port: server.port, user: 'gina', password: PW, batch: 'pwd\n' });

  before(async () => {
    server = await startTestServer({ config: { ftps: { port: 0 } } });
    web = `http://127.0.0.1:${server.running.httpPort}`;
    work = await mkdtemp(join(tmpdir(), 'ferry-group-protocols-'));
    await server.addUser('gina', { password: PW });
    await ferry('groups', 'add', 'sftp-partners', '--protocols', 'sftp', '--perm', '/out=list,download');
    await ferry('users', 'set', 'gina', '--group', 'sftp-partners');
    await mkdir(join(await server.homeOf('gina'), 'out'), { recursive: true });
    await writeFile(join(await server.homeOf('gina'), 'out', 'r.txt'), 'r\n');
  });
  after(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  test('the group allows only sftp: FTPS and web sign-ins are refused, SFTP works', async () => {
    assert.match(await ftps(), /^530/);
    assert.equal(await webSignIn(), 401);
    assert.equal((await sftp()).code, 0);
  });

  test('the group now allows ftps and https: both sign in at the next login, SFTP is refused', async () => {
    await ferry('groups', 'set', 'sftp-partners', '--protocols', 'ftps,https');
    assert.match(await ftps(), /^230/);
    assert.equal(await webSignIn(), 303);
    assert.notEqual((await sftp()).code, 0);
  });

  test("the group's folder permissions hold over FTPS: no upload into its download-only /out", async () => {
    await writeFile(join(work, 'up.txt'), 'ftps upload\n');
    const put = (path: string) =>
      execFileAsync('curl', [
        '-sS',
        '--ssl-reqd',
        '-k',
        '--max-time',
        '20',
        '-T',
        join(work, 'up.txt'),
        `ftp://gina:${PW}@127.0.0.1:${server.running.ftps!.port!}${path}`,
      ]);
    await assert.rejects(put('/out/new.txt'), /550|denied/i);
    await assert.rejects(stat(join(await server.homeOf('gina'), 'out', 'new.txt')));
    await put('/new.txt');
    assert.equal(await readFile(join(await server.homeOf('gina'), 'new.txt'), 'utf8'), 'ftps upload\n');
  });
});
