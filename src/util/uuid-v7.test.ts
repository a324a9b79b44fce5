import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuidV7 } from './uuid-v7.js';

const SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('a UUIDv7 carries its millisecond first, then the version and variant bits', () => {
  const ms = Date.UTC(2026, 11, 4, 20, 30, 0, 123);
  const id = uuidV7(ms);
  assert.match(id, SHAPE);
  assert.equal(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16), ms);
});

test('ids of later milliseconds sort after earlier ones (what keeps index inserts at the end)', () => {
  const start = Date.now();
  const ids = Array.from({ length: 2000 }, (_, i) => uuidV7(start + i));
  assert.deepEqual([...ids].sort(), ids);
});

test('ids are distinct and their random part differs across the pool refills', () => {
  const ms = Date.now();
  const ids = new Set(Array.from({ length: 5000 }, () => uuidV7(ms)));
  assert.equal(ids.size, 5000);
  for (const id of ids) assert.match(id, SHAPE);
  // 74 random bits: within one millisecond the tails are not all alike in any hex position.
  const tails = [...ids].map((id) => id.slice(24));
  for (let i = 0; i < 12; i++) assert.ok(new Set(tails.map((t) => t[i])).size > 8);
});
