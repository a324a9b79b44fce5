// The directory login against a real slapd: bind-search-bind, filter injection, disabled entries, groups,
// StartTLS and LDAPS with a self-signed certificate (trusted through caFile, refused without), outages.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Attribute, Change } from 'ldapts';
import { type DirectorySettings, LdapDirectory } from '../src/auth/ldap/directory.js';
import { rootLogger } from '../src/logger.js';
import { Secret } from '../src/util/secret.js';
import {
  GROUPS,
  PEOPLE,
  SERVICE_DN,
  slapdMissing,
  startDirectory,
  type TestDirectory,
} from './helpers/slapd.js';
import { makeTlsPair } from './helpers/tls-pair.js';

const missing = slapdMissing();
const ALICE_PW = 'alice-directory-pw';

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: string[] = [];
  const log = rootLogger.child({ logger: 'ldap' });
  log.level = 'info';
  const wrapped = Object.assign(Object.create(log), {
    error: (obj: unknown, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
    info: () => {},
    warn: (obj: unknown, msg?: string) => lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`),
  });
  return { log: wrapped as typeof log, lines };
}

describe('LDAP directory login against slapd', { skip: missing }, () => {
  let ds: TestDirectory;
  const settings = (extra: Partial<DirectorySettings> = {}): DirectorySettings => ({
    url: ds.url,
    startTls: false,
    bindDn: SERVICE_DN,
    bindPassword: new Secret(ds.servicePassword),
    userBase: PEOPLE,
    userFilter: '(&(objectClass=inetOrgPerson)(uid={username}))',
    usernameAttribute: 'uid',
    groupBase: GROUPS,
    groupFilter: '(member={dn})',
    timeout: 2,
    ...extra,
  });
  const verify = (user: string, password: string, extra: Partial<DirectorySettings> = {}) => {
    const { log, lines } = capturingLogger();
    return new LdapDirectory(settings(extra), log)
      .verify(user, new Secret(password))
      .then((verdict) => ({ verdict, lines }));
  };

  before(async () => {
    ds = await startDirectory(
      [
        { uid: 'alice', password: ALICE_PW, groups: ['staff', 'sftp-users'] },
        { uid: 'bob', password: 'bob-directory-pw' },
        { uid: 'carol', password: 'carol-directory-pw' },
      ],
      { tls: true },
    );
  });
  after(async () => {
    await ds?.stop();
  });

  test('the right password binds and reports the groups; a wrong or empty one does not', async () => {
    const ok = await verify('alice', ALICE_PW);
    assert.deepEqual(ok.verdict, { ok: true, dn: `uid=alice,${PEOPLE}`, groups: ['sftp-users', 'staff'] });
    assert.deepEqual((await verify('alice', 'nope')).verdict, { ok: false, reason: 'wrong password' });
    assert.deepEqual((await verify('alice', '')).verdict, { ok: false, reason: 'empty password' });
    assert.deepEqual((await verify('nobody', 'x')).verdict, { ok: false, reason: 'unknown user' });
    // A name that matches case-insensitively is not the entry's own name.
    assert.equal((await verify('ALICE', ALICE_PW)).verdict.ok, false);
  });

  test('filter injection in the name matches nothing, even with the right password of an entry', async () => {
    for (const name of ['*', '*)(uid=*', 'alice)(|(uid=*', 'admin)(|(uid=*', 'a*', '*)(objectClass=*)']) {
      const { verdict } = await verify(name, ALICE_PW);
      assert.equal(verdict.ok, false, name);
      assert.equal(verdict.ok === false && verdict.reason, 'unknown user', name);
    }
  });

  test('a filter matching several entries is refused', async () => {
    const { verdict } = await verify('alice', ALICE_PW, { userFilter: '(|(uid={username})(uid=bob))' });
    assert.deepEqual(verdict, { ok: false, reason: 'user name matches several directory entries' });
  });

  test('a configured disabled attribute refuses the entry', async () => {
    await ds.admin((c) =>
      c.modify(`uid=carol,${PEOPLE}`, [
        new Change({
          operation: 'add',
          modification: new Attribute({ type: 'employeeType', values: ['TRUE'] }),
        }),
      ]),
    );
    assert.equal(
      (await verify('carol', 'carol-directory-pw')).verdict.ok,
      true,
      'ignored when not configured',
    );
    const { verdict } = await verify('carol', 'carol-directory-pw', { disabledAttribute: 'employeeType' });
    assert.deepEqual(verdict, { ok: false, reason: 'disabled in the directory (employeeType)' });
  });

  test('the service account failing to bind is a clear outage, not a wrong password', async () => {
    const { verdict, lines } = await verify('alice', ALICE_PW, { bindPassword: new Secret('wrong') });
    assert.deepEqual(verdict, { ok: false, reason: 'directory unavailable', unavailable: true });
    assert.match(lines.join('\n'), /LDAP directory unavailable.*service account/);
    assert.ok(!lines.join('\n').includes(ds.servicePassword) && !lines.join('\n').includes(ALICE_PW));
  });

  test('StartTLS and LDAPS work with the CA given; an untrusted certificate is refused', async () => {
    assert.equal(ds.caFile !== undefined && ds.ldapsUrl !== undefined, true);
    const trusted = { caFile: ds.caFile };
    assert.equal((await verify('alice', ALICE_PW, { ...trusted, startTls: true })).verdict.ok, true);
    assert.equal((await verify('alice', ALICE_PW, { ...trusted, url: ds.ldapsUrl! })).verdict.ok, true);
    for (const extra of [{ startTls: true }, { url: ds.ldapsUrl! }]) {
      const { verdict, lines } = await verify('alice', ALICE_PW, extra);
      assert.deepEqual(verdict, { ok: false, reason: 'directory unavailable', unavailable: true });
      assert.match(lines.join('\n'), /self[- ]signed|certificate/i);
    }
    // A CA file of another certificate does not trust this one either.
    await mkdir(join(ds.dir, 'other'));
    const other = (await makeTlsPair(join(ds.dir, 'other'))).cert;
    assert.equal((await verify('alice', ALICE_PW, { caFile: other, startTls: true })).verdict.ok, false);
  });

  test('a directory that accepts connections but never answers is given up on after the timeout', {
    timeout: 30_000,
  }, async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const { verdict, lines } = await verify('alice', ALICE_PW, {
        url: `ldap://127.0.0.1:${port}`,
        timeout: 0.5,
      });
      assert.deepEqual(verdict, { ok: false, reason: 'directory unavailable', unavailable: true });
      assert.match(lines.join('\n'), /LDAP directory unavailable/);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('a stopped directory is refused within the timeout, with a log line saying so', async () => {
    await ds.kill();
    try {
      const { verdict, lines } = await verify('alice', ALICE_PW, { timeout: 1 });
      assert.deepEqual(verdict, { ok: false, reason: 'directory unavailable', unavailable: true });
      assert.match(lines.join('\n'), /LDAP directory unavailable/);
    } finally {
      await ds.start();
    }
  });
});
