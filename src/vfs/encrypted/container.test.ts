import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { newSegmentBuffer, openSegment, plainArea, sealSegment } from './container.js';

test('every sealing takes a fresh random nonce, across the nonce pool’s refills', () => {
  const keys = { fileId: randomBytes(16), dataKey: randomBytes(32) };
  const plain = randomBytes(1000);
  const nonces = new Set<string>();
  // 1000 sealings use ~12 KB of nonces: the pool (4 KiB) is refilled twice on the way.
  for (let i = 0; i < 1000; i++) {
    const buffer = newSegmentBuffer();
    plain.copy(plainArea(buffer));
    const sealed = sealSegment(keys, 7, false, buffer, plain.length);
    const nonce = sealed.subarray(0, 12).toString('hex');
    assert.notEqual(nonce, '0'.repeat(24));
    nonces.add(nonce);
    assert.deepEqual(openSegment(keys, 7, false, sealed, 'f'), plain);
  }
  assert.equal(nonces.size, 1000);
});
