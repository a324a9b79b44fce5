// The defender's effective lists: config base plus stored entries, read per check or shared until a change is announced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DefenderListEntry, DefenderListRepository } from '../store/types.js';
import { DefenderLists, matchesCidrs, normalizeCidr } from './defender-lists.js';

/** A list store in memory that counts its reads and can be made to fail. */
function memoryLists() {
  const entries: DefenderListEntry[] = [];
  const state = { reads: 0, failing: false };
  const repo: DefenderListRepository = {
    list: async () => {
      state.reads++;
      if (state.failing) throw new Error('store down');
      return [...entries];
    },
    add: async (e) => {
      entries.push(e);
      return true;
    },
    remove: async (list, cidr) => {
      const at = entries.findIndex((e) => e.list === list && e.cidr === cidr);
      if (at >= 0) entries.splice(at, 1);
      return at >= 0;
    },
  };
  const deny = (cidr: string) =>
    repo.add({ list: 'deny', cidr, note: '', createdBy: 'cli:root', createdAt: new Date() });
  return { repo, state, deny };
}

test('addresses and CIDRs have one spelling', () => {
  assert.equal(normalizeCidr(' 10.1.2.3/08 '), '10.1.2.3/8');
  assert.equal(normalizeCidr('192.0.2.7/32'), '192.0.2.7');
  assert.equal(normalizeCidr('2001:DB8:0:0::/32'), '2001:db8::/32');
  assert.equal(normalizeCidr('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(normalizeCidr('::ffff:10.0.0.0/104'), '10.0.0.0/8');
  assert.equal(normalizeCidr('::ffff:10.0.0.0/64'), undefined, 'no IPv4 prefix');
  for (const bad of ['', 'example.com', '10.0.0.0/33', '10.0.0.0/x', '1.2.3', '::1/129'])
    assert.equal(normalizeCidr(bad), undefined, bad);
});

test('without announcements every check reads the store, so a change made elsewhere applies to the next one', async () => {
  const { repo, state, deny } = memoryLists();
  const lists = new DefenderLists({ allow: ['10.0.0.0/8'], deny: [] }, repo);
  assert.equal(matchesCidrs((await lists.current()).deny, '198.51.100.9'), false);
  await deny('198.51.100.0/24');
  const now = await lists.current();
  assert.equal(matchesCidrs(now.deny, '198.51.100.9'), true);
  assert.equal(matchesCidrs(now.allow, '10.9.9.9'), true, 'the config base stays');
  assert.equal(state.reads, 2);
});

test('with announcements one read is shared until a change is announced, and a failed read is not kept', async () => {
  const { repo, state, deny } = memoryLists();
  let clock = 0;
  const lists = new DefenderLists({ allow: [], deny: [] }, repo, () => clock);
  lists.announcedChanges();
  await lists.current();
  await deny('192.0.2.0/24');
  assert.equal(matchesCidrs((await lists.current()).deny, '192.0.2.1'), false, 'shared until announced');
  assert.equal(state.reads, 1);
  lists.changed();
  assert.equal(matchesCidrs((await lists.current()).deny, '192.0.2.1'), true);
  assert.equal(state.reads, 2);
  clock += 5000;
  await lists.current();
  assert.equal(state.reads, 3, 'read again after a few seconds even without an announcement');
  lists.changed();
  state.failing = true;
  await assert.rejects(lists.current(), /store down/);
  state.failing = false;
  assert.equal(matchesCidrs((await lists.current()).deny, '192.0.2.1'), true, 'the next check reads again');
});
