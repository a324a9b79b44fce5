import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PgpKeyRecord } from '../store/types.js';
import { expiringKeys } from './expiry.js';

const DAY = 86_400_000;
const now = new Date('2026-11-30T12:00:00Z');

function key(name: string, expiresAt: Date | null): PgpKeyRecord {
  return {
    id: 1,
    name,
    fingerprint: name.toUpperCase().padEnd(40, '0'),
    keyId: name,
    userIds: [],
    algorithm: 'ed25519',
    createdAt: new Date(0),
    expiresAt,
    publicArmored: '',
    privateSealed: null,
  };
}

test('keys expiring within the warning period are found with their whole days left; expired and lasting ones are not', () => {
  const keys = [
    key('never', null),
    key('expired', new Date(now.getTime() - 1)),
    key('hours', new Date(now.getTime() + 5 * 3_600_000)),
    key('ten', new Date(now.getTime() + 10 * DAY + 1000)),
    key('edge', new Date(now.getTime() + 30 * DAY)),
    key('later', new Date(now.getTime() + 30 * DAY + 1)),
  ];
  const found = expiringKeys(keys, now, 30).map((f) => [f.key.name, f.daysLeft]);
  assert.deepEqual(found, [
    ['hours', 0],
    ['ten', 10],
    ['edge', 30],
  ]);
  assert.deepEqual(expiringKeys(keys, now, 0), []);
});
