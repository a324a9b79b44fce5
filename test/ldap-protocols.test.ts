// One directory, every front end: a directory person logs in over SCP, FTPS (curl) and the web client (curl's
// form sign-in), all through the shared authenticator, each audited with source ldap; a wrong password fails
// on each. The server runs in-process (startTestServer) against a real slapd.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { AuditRecord } from '../src/store/types.js';
import { scpRun } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { PEOPLE, SERVICE_DN, slapdMissing, startDirectory, type TestDirectory } from './helpers/slapd.js';

const execFileAsync = promisify(execFile);
const missing = slapdMissing();
const PW = 'dana-directory-pw';

describe('directory logins over SCP, FTPS and the web client', { skip: missing }, () => {
  let ds: TestDirectory;
  let server: TestServer;
  let work: string;
  /** Waits (the audit writer commits in batches) until dana's auth records over `protocol` satisfy `check`. */
  const recorded = async (protocol: string, check: (r: AuditRecord) => boolean) => {
    for (let i = 0; i < 50; i++) {
      const records = await server.running.context.store.audit.page({ actions: ['auth'], limit: 200 });
      const mine = records.filter((r) => r.user === 'dana' && detailOf(r).protocol === protocol);
      if (mine.some(check)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  /** The record's detail (stored as JSON text). */
  const detailOf = (r: AuditRecord): Record<string, unknown> =>
    typeof r.detail === 'string' ? JSON.parse(r.detail) : ((r.detail ?? {}) as Record<string, unknown>);
  const fromLdap = (r: AuditRecord) => detailOf(r).source === 'ldap';
  const curl = async (args: string[]) => {
    const { stdout } = await execFileAsync('curl', ['-sS', '-w', '\n%{http_code}', ...args]).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? '\n000' }),
    );
    const at = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
  };
  const webLogin = async (password: string) => {
    const jar = join(work, `jar-${Math.random()}`);
    const base = `http://127.0.0.1:${server.running.httpPort}`;
    const form = await curl(['-c', jar, '-b', jar, `${base}/files/login`]);
    const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    return curl([
      '-c',
      jar,
      '-b',
      jar,
      '--data-urlencode',
      `_csrf=${token}`,
      '-d',
      'username=dana',
      '--data-urlencode',
      `password=${password}`,
      `${base}/files/login`,
    ]);
  };

  before(async () => {
    ds = await startDirectory([{ uid: 'dana', password: PW }]);
    work = await mkdtemp(join(tmpdir(), 'ferry-ldap-proto-'));
    server = await startTestServer({
      config: {
        ftps: { port: 0 },
        ldap: {
          url: ds.url,
          bindDn: SERVICE_DN,
          bindPassword: ds.servicePassword,
          userBase: PEOPLE,
          cacheTtl: 0,
          timeout: 2,
        },
      },
    });
    await writeFile(join(work, 'in.txt'), 'hello from scp\n');
  });
  after(async () => {
    await server?.close();
    await ds?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('scp uploads as the directory person', async () => {
    const up = await scpRun({
      port: server.port,
      user: 'dana',
      password: PW,
      args: ['in.txt', 'remote:in.txt'],
      cwd: work,
    });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await readFile(join(await server.homeOf('dana'), 'in.txt'), 'utf8'), 'hello from scp\n');
    const bad = await scpRun({
      port: server.port,
      user: 'dana',
      password: 'nope',
      args: ['in.txt', 'remote:x.txt'],
      cwd: work,
    });
    assert.notEqual(bad.code, 0);
  });

  test('FTPS logs the directory person in; a wrong password gets 530', async () => {
    const url = `ftp://127.0.0.1:${server.running.ftps!.port}/`;
    const list = await curl(['--ssl-reqd', '-k', '--user', `dana:${PW}`, '--list-only', url]);
    assert.equal(list.status, 226, list.body);
    assert.match(list.body, /in\.txt/);
    const wrong = await curl(['--ssl-reqd', '-k', '--user', 'dana:nope', '--list-only', url]);
    assert.equal(wrong.status, 530);
    assert.ok(await recorded('ftps', (r) => r.result === 'ok' && fromLdap(r)));
    assert.ok(
      await recorded('ftps', (r) => r.result === 'failed' && r.reason === 'wrong password' && fromLdap(r)),
    );
  });

  test('the web client signs the directory person in; a wrong password is refused', async () => {
    assert.equal((await webLogin(PW)).status, 303);
    assert.equal((await webLogin('nope')).status, 401);
    assert.ok(await recorded('https', (r) => r.result === 'ok' && fromLdap(r)));
  });

  test('no password reaches the audit trail', async () => {
    const all = JSON.stringify(await server.running.context.store.audit.page({ limit: 500 }));
    assert.ok(all.includes('dana'));
    assert.ok(!all.includes(PW) && !all.includes(ds.servicePassword));
  });
});
