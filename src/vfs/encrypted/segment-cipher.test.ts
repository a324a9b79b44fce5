// The in-place AES-256-GCM of encrypted storage: the native addon is what runs, and it is GCM exactly as node:crypto's.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { nodeSegmentCipher, segmentCipher, segmentCipherKind } from './segment-cipher.js';

function material(length: number) {
  return { key: randomBytes(32), nonce: randomBytes(12), aad: randomBytes(25), plain: randomBytes(length) };
}

describe('segment cipher', () => {
  it('is the native addon (npm install builds native/aead)', () => {
    assert.equal(segmentCipherKind, 'native');
    assert.notEqual(segmentCipher, nodeSegmentCipher);
  });

  it('seals in place exactly as node:crypto does, and each opens what the other sealed', () => {
    for (const length of [0, 1, 15, 16, 17, 32_768, 65_536]) {
      const m = material(length);
      const byAddon = Buffer.from(m.plain);
      const byNode = Buffer.from(m.plain);
      const tagAddon = Buffer.alloc(16);
      const tagNode = Buffer.alloc(16);
      segmentCipher.seal(m.key, m.nonce, m.aad, byAddon, tagAddon);
      nodeSegmentCipher.seal(m.key, m.nonce, m.aad, byNode, tagNode);
      assert.ok(byAddon.equals(byNode) && tagAddon.equals(tagNode), `same ciphertext and tag at ${length}`);
      if (length > 0) assert.ok(!byAddon.equals(m.plain), 'the buffer now holds ciphertext');
      assert.equal(nodeSegmentCipher.open(m.key, m.nonce, m.aad, byAddon, tagAddon), true);
      assert.equal(segmentCipher.open(m.key, m.nonce, m.aad, byNode, tagNode), true);
      assert.ok(byAddon.equals(m.plain) && byNode.equals(m.plain), `both open to the plaintext at ${length}`);
    }
  });

  it('refuses a flipped byte, a wrong tag, other associated data or another key, and leaves zeros', () => {
    const m = material(65_536);
    const sealed = Buffer.from(m.plain);
    const tag = Buffer.alloc(16);
    segmentCipher.seal(m.key, m.nonce, m.aad, sealed, tag);
    const attempts: Array<[string, (data: Buffer, t: Buffer) => boolean]> = [
      [
        'flipped byte',
        (data, t) => {
          data[40_000]! ^= 1;
          return segmentCipher.open(m.key, m.nonce, m.aad, data, t);
        },
      ],
      [
        'wrong tag',
        (data, t) => {
          t[0]! ^= 1;
          return segmentCipher.open(m.key, m.nonce, m.aad, data, t);
        },
      ],
      [
        'other associated data',
        (data, t) => {
          const aad = Buffer.from(m.aad);
          aad[24]! ^= 1;
          return segmentCipher.open(m.key, m.nonce, aad, data, t);
        },
      ],
      ['another key', (data, t) => segmentCipher.open(randomBytes(32), m.nonce, m.aad, data, t)],
    ];
    for (const [what, attempt] of attempts) {
      const data = Buffer.from(sealed);
      assert.equal(attempt(data, Buffer.from(tag)), false, what);
      assert.ok(
        data.every((b) => b === 0),
        `${what}: no unauthenticated plaintext is left behind`,
      );
    }
  });

  it('rejects keys, nonces and tags of the wrong size and arguments that are not bytes', () => {
    const m = material(16);
    const tag = Buffer.alloc(16);
    assert.throws(() => segmentCipher.seal(randomBytes(16), m.nonce, m.aad, m.plain, tag), RangeError);
    assert.throws(() => segmentCipher.seal(m.key, randomBytes(16), m.aad, m.plain, tag), RangeError);
    assert.throws(() => segmentCipher.open(m.key, m.nonce, m.aad, m.plain, Buffer.alloc(12)), RangeError);
    assert.throws(
      () => segmentCipher.seal(m.key, m.nonce, m.aad, 'text' as unknown as Buffer, tag),
      TypeError,
    );
  });
});
