import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loggers } from '../logger.js';
import type { DefenderListEntry, DefenderListRepository } from '../store/types.js';
import { DefenderLists } from './defender-lists.js';
import { type SweptSession, startDenySweep, sweepDenied } from './deny-sweep.js';

/** Stored entries the test changes as an administrator would. */
function storedLists(entries: { list: 'allow' | 'deny'; cidr: string }[]): DefenderListRepository {
  const now = new Date();
  return {
    list: async () =>
      entries.map((e): DefenderListEntry => ({ ...e, note: '', createdBy: 'cli:root', createdAt: now })),
  } as unknown as DefenderListRepository;
}

const sessions: SweptSession[] = [
  { id: 'a1', remoteAddress: '192.0.2.10', username: 'alice' },
  { id: 'b1', remoteAddress: '::ffff:198.51.100.7', username: 'bob' },
  { id: 'c1', remoteAddress: '2001:db8::5', username: null },
  { id: 'd1', remoteAddress: '203.0.113.9', username: 'dave' },
];

test('a sweep ends the connections whose address a deny entry covers (IPv4, mapped, IPv6, CIDR), and only those', async () => {
  const entries: { list: 'allow' | 'deny'; cidr: string }[] = [{ list: 'allow', cidr: '192.0.2.0/24' }];
  const lists = new DefenderLists({ allow: [], deny: ['2001:db8::/32'] }, storedLists(entries));
  const cut: string[] = [];
  const told: string[] = [];
  const options = {
    lists,
    sessions: () => sessions.filter((s) => !cut.includes(s.id)),
    disconnect: (id: string) => {
      cut.push(id);
      return true;
    },
    ended: (s: SweptSession) => told.push(`${s.id}:${s.username}`),
    log: loggers.ssh,
  };
  // The config's entry only: the IPv6 client goes.
  assert.equal(await sweepDenied(options), 1);
  assert.deepEqual(cut, ['c1']);
  // Added at run time: a mapped IPv4 client by its plain address, and one network that the allow list also has
  // (the deny list wins, as it does for new connections).
  entries.push({ list: 'deny', cidr: '198.51.100.7' }, { list: 'deny', cidr: '192.0.2.0/28' });
  assert.equal(await sweepDenied(options), 2);
  assert.deepEqual(cut, ['c1', 'a1', 'b1']);
  assert.deepEqual(told, ['c1:null', 'a1:alice', 'b1:bob']);
  assert.equal(await sweepDenied(options), 0, 'dave is on no list');
});

test('a connection already gone is not counted or reported; the timer sweeps until stopped', async () => {
  const lists = new DefenderLists({ allow: [], deny: ['203.0.113.0/24'] }, storedLists([]));
  let asked = 0;
  const told: string[] = [];
  const stop = startDenySweep({
    lists,
    sessions: () => sessions,
    disconnect: () => {
      asked++;
      return false;
    },
    ended: (s) => told.push(s.id),
    log: loggers.ssh,
    everyMs: 20,
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
  stop();
  const after = asked;
  assert.ok(after >= 3, `swept ${after} times`);
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.equal(asked, after, 'no sweep after stop');
  assert.deepEqual(told, []);
});
