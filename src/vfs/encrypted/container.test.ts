import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type ContainerKeys,
  decodeHeader,
  encodeHeader,
  IntegrityError,
  newHeader,
  newSegmentBuffer,
  openSegment,
  plainArea,
  sealSegment,
} from './container.js';
import { newMasterKey } from './encrypted-fs-fixture.js';
import type { SegmentCipherName } from './segment-cipher.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

const CIPHERS: SegmentCipherName[] = ['aes-256-gcm', 'chacha20-poly1305'];

function sealed(keys: ContainerKeys, index: number, plain: Buffer, final = false): Buffer {
  const buffer = newSegmentBuffer();
  plain.copy(plainArea(buffer));
  return Buffer.from(sealSegment(keys, index, final, buffer, plain.length));
}

async function withRing(fn: (ring: StorageKeyRing) => void): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-container-'));
  try {
    fn(new StorageKeyRing(storageKekOf(await newMasterKey(dir))));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a nonce is the segment index, then random bytes fresh at every sealing (across the pool’s refills)', () => {
  for (const cipher of CIPHERS) {
    const keys = { fileId: randomBytes(16), dataKey: randomBytes(32), cipher };
    const plain = randomBytes(1000);
    const nonces = new Set<string>();
    // 1000 sealings use ~8 KB of random bytes: the pool (4 KiB) is refilled on the way.
    for (let i = 0; i < 1000; i++) {
      const segment = sealed(keys, 7, plain);
      assert.equal(segment.readUInt32BE(0), 7, 'the index leads the nonce');
      const random = segment.subarray(4, 12).toString('hex');
      assert.notEqual(random, '0'.repeat(16));
      nonces.add(random);
      assert.deepEqual(openSegment(keys, 7, false, segment, 'f'), plain);
    }
    assert.equal(nonces.size, 1000, `${cipher}: no random part repeats`);
    // An index past 32 bits keeps its low 32 (files past 256 TiB; the random part still differs).
    assert.equal(sealed(keys, 2 ** 32 + 5, plain).readUInt32BE(0), 5);
  }
});

test('a segment opens only under the cipher it was sealed with', () => {
  const plain = randomBytes(5000);
  const base = { fileId: randomBytes(16), dataKey: randomBytes(32) };
  const aes = sealed({ ...base, cipher: 'aes-256-gcm' }, 3, plain);
  const chacha = sealed({ ...base, cipher: 'chacha20-poly1305' }, 3, plain);
  assert.notDeepEqual(aes.subarray(12), chacha.subarray(12), 'different ciphertexts');
  assert.throws(
    () => openSegment({ ...base, cipher: 'chacha20-poly1305' }, 3, false, Buffer.from(aes), 'f'),
    IntegrityError,
  );
  assert.throws(
    () => openSegment({ ...base, cipher: 'aes-256-gcm' }, 3, false, Buffer.from(chacha), 'f'),
    IntegrityError,
  );
  assert.deepEqual(openSegment({ ...base, cipher: 'chacha20-poly1305' }, 3, false, chacha, 'f'), plain);
});

test('the header names the cipher: AES as format 1 (as before), ChaCha20-Poly1305 as format 2; rewrapping keeps it', async () => {
  await withRing((ring) => {
    for (const [cipher, version, id] of [
      ['aes-256-gcm', 1, 0],
      ['chacha20-poly1305', 2, 1],
    ] as const) {
      const { header, keys } = newHeader(ring, cipher);
      assert.equal(header.readUInt8(8), version);
      assert.equal(header.readUInt8(10), id);
      const decoded = decodeHeader(header, ring, 'f');
      assert.equal(decoded.cipher, cipher);
      assert.deepEqual(decoded.dataKey, keys.dataKey);
      assert.equal(
        decodeHeader(encodeHeader(ring, decoded), ring, 'f').cipher,
        cipher,
        'rekey keeps the cipher',
      );
    }
  });
});

test('a header changed to name another cipher, or an unknown one, is refused', async () => {
  await withRing((ring) => {
    const { header } = newHeader(ring, 'chacha20-poly1305');
    const toAes = Buffer.from(header);
    toAes.writeUInt8(0, 10);
    assert.throws(() => decodeHeader(toAes, ring, 'f'), /failed authentication/);
    const unknown = Buffer.from(header);
    unknown.writeUInt8(9, 10);
    assert.throws(() => decodeHeader(unknown, ring, 'f'), /format 2 is not one this Ferry reads/);
    const v1chacha = Buffer.from(header);
    v1chacha.writeUInt8(1, 8);
    assert.throws(() => decodeHeader(v1chacha, ring, 'f'), /format 1 is not one this Ferry reads/);
    const v3 = Buffer.from(header);
    v3.writeUInt8(3, 8);
    assert.throws(() => decodeHeader(v3, ring, 'f'), /format 3 is not one this Ferry reads/);
  });
});
