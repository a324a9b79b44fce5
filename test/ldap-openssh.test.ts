// Directory logins end to end: `ferry serve` with an `ldap` config against a real slapd, OpenSSH sftp (sshpass)
// logging in as directory people: provisioned from the mapped template, uploads, audited with source ldap;
// wrong passwords and filter injection refused; a person removed from the directory refused after the TTL;
// the directory down refuses its people quickly with a clear log line while local users still log in.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { type Serving, serveFerry } from './helpers/ferry-serve.js';
import { sftpBatch } from './helpers/openssh.js';
import {
  GROUPS,
  PEOPLE,
  SERVICE_DN,
  slapdMissing,
  startDirectory,
  type TestDirectory,
} from './helpers/slapd.js';

const missing = slapdMissing();
const ALICE_PW = 'alice-in-the-directory';
const BOB_PW = 'bob-in-the-directory';
const LOCAL_PW = 'local-user-pw-1618';
const TTL = 1;

describe('LDAP logins over OpenSSH sftp', { skip: missing }, () => {
  let ds: TestDirectory;
  let work: string;
  let dataDir: string;
  let serving: Serving;
  let port: number;
  const children: ChildProcess[] = [];
  const ferry = (args: string[], input = '') => runFerry([...args, '--data-dir', dataDir], input);
  const sftp = (user: string, password: string, batch = 'pwd\n') =>
    sftpBatch({ port, user, password, batch, cwd: work });
  const audit = async (user: string) => {
    const out = await ferry(['audit', 'query', '--user', user, '--action', 'auth', '--json']);
    assert.equal(out.code, 0, out.stderr);
    return out.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(
        (l) => JSON.parse(l) as { result: string; reason: string | null; detail: Record<string, unknown> },
      );
  };

  before(async () => {
    ds = await startDirectory([
      { uid: 'alice', password: ALICE_PW, groups: ['sftp-partners'] },
      { uid: 'bob', password: BOB_PW },
    ]);
    work = await mkdtemp(join(tmpdir(), 'ferry-ldap-'));
    dataDir = join(work, 'data');
    const secretFile = join(work, 'bind-password');
    await writeFile(secretFile, `${ds.servicePassword}\n`, { mode: 0o600 });
    const config = join(work, 'ferry.json');
    await writeFile(
      config,
      JSON.stringify({
        allowList: '127.0.0.1',
        ldap: {
          url: ds.url,
          bindDn: SERVICE_DN,
          bindPasswordFile: secretFile,
          userBase: PEOPLE,
          userFilter: '(&(objectClass=inetOrgPerson)(uid={username}))',
          groupBase: GROUPS,
          groupFilter: '(member={dn})',
          groupMap: { 'sftp-partners': 'partner-template' },
          cacheTtl: TTL,
          timeout: 1,
        },
      }),
    );
    const started = await serveFerry(
      dataDir,
      children,
      ['--config', config, '--workers', '1', '--http-listen', '127.0.0.1:0'],
      /SFTP listening on [\d.]+:(\d+)/,
    );
    serving = started.serving;
    port = Number(started.match[1]);
    // The template: what alice's account is made from (a disabled account nobody logs in as).
    const tpl = await ferry([
      'users',
      'add',
      'partner-template',
      '--perm',
      '/=list,download,upload',
      '--protocols',
      'sftp',
    ]);
    assert.equal(tpl.code, 0, tpl.stderr);
    assert.equal((await ferry(['users', 'disable', 'partner-template'])).code, 0);
    const local = await ferry(['users', 'add', 'localuser', '--password-stdin'], `${LOCAL_PW}\n`);
    assert.equal(local.code, 0, local.stderr);
    await writeFile(join(work, 'report.csv'), 'id,amount\n1,100\n');
  });

  after(async () => {
    await serving?.stop();
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await ds?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('a directory person logs in, gets an account from the mapped template and uploads; audited as ldap', async () => {
    const up = await sftp('alice', ALICE_PW, 'put report.csv\nls -l\n');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /report\.csv/);
    const show = await ferry(['users', 'show', 'alice', '--json']);
    assert.equal(show.code, 0, show.stderr);
    const view = JSON.parse(show.stdout) as Record<string, unknown>;
    assert.equal(view.authSource, 'ldap');
    assert.equal(view.hasPassword, false, 'no local password');
    assert.deepEqual(view.externalGroups, ['sftp-partners']);
    assert.deepEqual(view.permissions, { '/': ['list', 'download', 'upload'] }, 'from the template');
    assert.deepEqual(view.protocols, ['sftp']);
    assert.equal(await readFile(join(String(view.home), 'report.csv'), 'utf8'), 'id,amount\n1,100\n');
    const records = await audit('alice');
    assert.ok(
      records.some((r) => r.result === 'ok' && r.detail.method === 'password' && r.detail.source === 'ldap'),
      JSON.stringify(records),
    );
    // Bob is in no mapped group: Ferry's defaults, and he may delete (the template does not allow it to alice).
    assert.equal((await sftp('bob', BOB_PW)).code, 0);
    assert.deepEqual(JSON.parse((await ferry(['users', 'show', 'bob', '--json'])).stdout).permissions, {
      '/': ['*'],
    });
    const rm = await sftp('alice', ALICE_PW, 'rm report.csv\n');
    assert.notEqual(rm.code, 0, 'the template gave alice no delete');
  });

  test('a wrong password, an empty one and filter injection in the name are refused and audited as ldap', async () => {
    const wrong = await sftp('alice', 'not-her-password');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Permission denied/);
    const refused = await audit('alice');
    assert.ok(
      refused.some(
        (r) => r.result === 'failed' && r.reason === 'wrong password' && r.detail.source === 'ldap',
      ),
    );
    for (const name of ['*', '*)(uid=*', 'admin)(|(uid=*']) {
      const injected = await sftp(name, ALICE_PW);
      assert.notEqual(injected.code, 0, name);
    }
    const users = JSON.parse((await ferry(['users', 'list', '--json'])).stdout) as { name: string }[];
    assert.ok(
      users.every((u) => /^[\w.-]+$/.test(u.name)),
      `no account from an injected name: ${users.map((u) => u.name)}`,
    );
    // An empty password never reaches the directory (an unauthenticated bind would succeed there).
    const empty = await sftp('alice', '');
    assert.notEqual(empty.code, 0);
    const records = await audit('alice');
    assert.ok(
      records.some((r) => r.result === 'failed' && r.reason === 'empty password'),
      JSON.stringify(records),
    );
  });

  test('a person removed from the directory is refused once the cache TTL has passed', async () => {
    assert.equal((await sftp('bob', BOB_PW)).code, 0);
    await ds.admin((c) => c.del(`uid=bob,${PEOPLE}`));
    await new Promise((r) => setTimeout(r, TTL * 1000 + 300));
    const gone = await sftp('bob', BOB_PW);
    assert.notEqual(gone.code, 0);
    const records = await audit('bob');
    assert.ok(
      records.some((r) => r.result === 'failed' && r.reason === 'unknown user'),
      JSON.stringify(records),
    );
  });

  test('the directory down: its people are refused with a clear log line, local users still log in', async () => {
    await ds.kill();
    try {
      await new Promise((r) => setTimeout(r, TTL * 1000 + 300));
      const refused = await sftp('alice', ALICE_PW);
      assert.notEqual(refused.code, 0);
      assert.match(serving.stderr(), /LDAP directory unavailable/);
      assert.ok(!serving.stderr().includes(ALICE_PW) && !serving.stderr().includes(ds.servicePassword));
      const local = await sftp('localuser', LOCAL_PW);
      assert.equal(local.code, 0, local.stderr);
    } finally {
      await ds.start();
    }
    assert.equal((await sftp('alice', ALICE_PW)).code, 0, 'back once the directory answers');
  });
});
