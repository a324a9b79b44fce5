// The pieces of a directory login that need no directory: filter escaping, group mapping, the bind cache, AD bits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from 'ldapts';
import { Secret } from '../../util/secret.js';
import { BindCache } from './bind-cache.js';
import { entryDisabled } from './directory.js';
import { escapeFilterValue, fillFilter, firstRdnValue } from './filter.js';
import { mapDirectoryGroups } from './group-mapping.js';

test('names put into a filter template stay one literal value (RFC 4515 escaping)', () => {
  assert.equal(fillFilter('(uid={username})', { username: 'alice' }), '(uid=alice)');
  assert.equal(fillFilter('(uid={username})', { username: '*)(uid=*' }), '(uid=\\2a\\29\\28uid=\\2a)');
  assert.equal(
    fillFilter('(&(objectClass=person)(uid={username}))', { username: 'admin)(|(uid=*' }),
    '(&(objectClass=person)(uid=admin\\29\\28|\\28uid=\\2a))',
  );
  assert.equal(escapeFilterValue('a\\b\0c'), 'a\\5cb\\00c');
  // A DN with a backslash escape of its own is escaped once more for the filter.
  assert.equal(fillFilter('(member={dn})', { dn: 'uid=a\\,b,ou=people' }), '(member=uid=a\\5c,b,ou=people)');
  assert.equal(fillFilter('(x={other})', { username: 'a' }), '(x={other})');
});

test("a group's name is its DN's first value", () => {
  assert.equal(firstRdnValue('cn=staff,ou=groups,dc=ferry,dc=test'), 'staff');
  assert.equal(firstRdnValue('CN=Domain Users,CN=Users,DC=corp'), 'Domain Users');
  assert.equal(firstRdnValue('cn=a\\,b,ou=g'), 'a,b');
});

test('directory groups choose the template in groupMap order; requireGroup refuses people in none', () => {
  const settings = {
    groupMap: { admins: 'tpl-admin', staff: 'tpl-staff' },
    templateUser: 'tpl',
    requireGroup: false,
  };
  assert.deepEqual(mapDirectoryGroups(['Staff', 'admins'], settings), {
    allowed: true,
    template: 'tpl-admin',
    mappedGroups: ['admins', 'staff'],
  });
  assert.deepEqual(mapDirectoryGroups(['other'], settings), {
    allowed: true,
    template: 'tpl',
    mappedGroups: [],
  });
  const strict = mapDirectoryGroups(['other'], { ...settings, requireGroup: true });
  assert.equal(strict.allowed, false);
});

test('the bind cache holds a keyed hash only, for the TTL, and only for the same password', () => {
  let now = 1_000;
  const cache = new BindCache(60, () => now);
  const pw = new Secret('correct horse');
  cache.set('alice', pw, { dn: 'uid=alice', groups: ['staff'] });
  assert.deepEqual(cache.get('alice', new Secret('correct horse')), { dn: 'uid=alice', groups: ['staff'] });
  assert.equal(cache.get('alice', new Secret('wrong')), undefined);
  assert.equal(cache.get('bob', pw), undefined);
  now += 60_000;
  assert.equal(cache.get('alice', pw), undefined, 'expired after the TTL');
  const off = new BindCache(0, () => now);
  off.set('alice', pw, { dn: 'uid=alice', groups: [] });
  assert.equal(off.get('alice', pw), undefined, 'a TTL of 0 caches nothing');
});

test("AD's ACCOUNTDISABLE bit and a configured attribute disable an entry", () => {
  const entry = (extra: Record<string, string | string[]>) => ({ dn: 'uid=a', ...extra }) as Entry;
  assert.equal(entryDisabled(entry({ userAccountControl: '512' }), undefined), undefined);
  assert.match(entryDisabled(entry({ userAccountControl: '514' }), undefined) ?? '', /disabled/);
  assert.equal(entryDisabled(entry({ nsAccountLock: 'FALSE' }), 'nsAccountLock'), undefined);
  assert.match(entryDisabled(entry({ nsaccountlock: 'TRUE' }), 'nsAccountLock') ?? '', /nsAccountLock/);
  assert.equal(entryDisabled(entry({ nsAccountLock: 'TRUE' }), undefined), undefined);
});
