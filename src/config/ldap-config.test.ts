// The `ldap` config section: off by default, a bad value is one line naming it, the bind password never in a file.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../errors.js';
import { loadConfig } from './load.js';

const base = { FERRY_LDAP_URL: 'ldap://dc1.example:389', FERRY_LDAP_USER_BASE: 'ou=people,dc=example' };

test('ldap is off by default and set from FERRY_LDAP_* variables', () => {
  assert.equal(loadConfig({ env: {} }).ldap.url, undefined);
  const { ldap } = loadConfig({
    env: {
      ...base,
      FERRY_LDAP_START_TLS: 'true',
      FERRY_LDAP_BIND_DN: 'cn=svc,dc=example',
      FERRY_LDAP_BIND_PASSWORD: 'hunter2',
      FERRY_LDAP_GROUP_MAP: 'sftp-finance=finance-tpl, sftp-it=it-tpl',
      FERRY_LDAP_CACHE_TTL: '5',
    },
  });
  assert.equal(ldap.startTls, true);
  assert.deepEqual(ldap.groupMap, { 'sftp-finance': 'finance-tpl', 'sftp-it': 'it-tpl' });
  assert.equal(ldap.cacheTtl, 5);
  assert.equal(ldap.userFilter, '(uid={username})');
  assert.equal(ldap.bindPassword?.reveal(), 'hunter2');
  assert.ok(!JSON.stringify(ldap).includes('hunter2'), 'the password never reaches a log');
  assert.equal(loadConfig({ env: base }).ldap.cacheTtl, 60, 'a short default TTL');
});

test('a bad ldap setting is one line naming it', () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ ...base, FERRY_LDAP_URL: 'http://dc1' }, /ldap\.url: must be ldap:\/\//],
    [{ FERRY_LDAP_URL: 'ldap://dc1' }, /ldap\.userBase: is required/],
    [{ ...base, FERRY_LDAP_URL: 'ldaps://dc1', FERRY_LDAP_START_TLS: 'true' }, /ldap\.startTls/],
    [{ ...base, FERRY_LDAP_USER_FILTER: '(uid=alice)' }, /ldap\.userFilter: must contain \{username\}/],
    [{ ...base, FERRY_LDAP_BIND_DN: 'cn=svc' }, /ldap\.bindDn: needs/],
    [{ ...base, FERRY_LDAP_GROUP_MAP: 'no-equals' }, /ldap\.groupMap: 'no-equals' must look like/],
    [{ ...base, FERRY_LDAP_HOME_TEMPLATE: '/srv/staff' }, /ldap\.homeTemplate: must be an absolute path/],
  ];
  for (const [env, message] of bad) {
    assert.throws(
      () => loadConfig({ env }),
      (err: Error) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'),
      JSON.stringify(env),
    );
  }
});

test('the bind password is refused in a config file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-ldap-config-'));
  try {
    const file = join(dir, 'ferry.json');
    await writeFile(
      file,
      JSON.stringify({ ldap: { url: 'ldap://dc1', userBase: 'dc=x', bindPassword: 'p' } }),
    );
    assert.throws(
      () => loadConfig({ file, env: {} }),
      /ldap\.bindPassword: give it as FERRY_LDAP_BIND_PASSWORD/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
