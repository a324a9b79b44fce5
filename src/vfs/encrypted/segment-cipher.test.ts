// The in-place AEAD of encrypted storage: the native addon is what runs, and its AES-256-GCM and ChaCha20-Poly1305
// are exactly node:crypto's.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CIPHER_IDS,
  nodeSegmentCipher,
  segmentCipher,
  segmentCipherKind,
  segmentIo,
} from './segment-cipher.js';

function material(length: number) {
  return { key: randomBytes(32), nonce: randomBytes(12), aad: randomBytes(25), plain: randomBytes(length) };
}

describe('segment cipher', () => {
  it('is the native addon (npm install builds native/aead)', () => {
    assert.equal(segmentCipherKind, 'native');
    assert.notEqual(segmentCipher, nodeSegmentCipher);
  });

  it('seals in place exactly as node:crypto does, with each cipher, and each opens what the other sealed', () => {
    for (const [name, id] of Object.entries(CIPHER_IDS)) {
      for (const length of [0, 1, 15, 16, 17, 32_768, 65_536]) {
        const m = material(length);
        const byAddon = Buffer.from(m.plain);
        const byNode = Buffer.from(m.plain);
        const tagAddon = Buffer.alloc(16);
        const tagNode = Buffer.alloc(16);
        segmentCipher.seal(m.key, m.nonce, m.aad, byAddon, tagAddon, id);
        nodeSegmentCipher.seal(m.key, m.nonce, m.aad, byNode, tagNode, id);
        assert.ok(
          byAddon.equals(byNode) && tagAddon.equals(tagNode),
          `${name}: same ciphertext and tag at ${length}`,
        );
        // From 15 bytes on: one random byte of keystream is 0 one time in 256, so a 1-byte ciphertext can equal
        // its plaintext (CI saw it once); 15 zero bytes, one time in 2^120.
        if (length >= 15) assert.ok(!byAddon.equals(m.plain), 'the buffer now holds ciphertext');
        assert.equal(nodeSegmentCipher.open(m.key, m.nonce, m.aad, byAddon, tagAddon, id), true);
        assert.equal(segmentCipher.open(m.key, m.nonce, m.aad, byNode, tagNode, id), true);
        assert.ok(
          byAddon.equals(m.plain) && byNode.equals(m.plain),
          `${name}: both open the plaintext at ${length}`,
        );
      }
    }
    // Without a cipher argument: AES-256-GCM (what callers before the choice passed).
    const m = material(100);
    const [a, b] = [Buffer.from(m.plain), Buffer.from(m.plain)];
    const [ta, tb] = [Buffer.alloc(16), Buffer.alloc(16)];
    segmentCipher.seal(m.key, m.nonce, m.aad, a, ta);
    nodeSegmentCipher.seal(m.key, m.nonce, m.aad, b, tb, CIPHER_IDS['aes-256-gcm']);
    assert.ok(a.equals(b) && ta.equals(tb));
  });

  it('refuses a cipher id it does not know', () => {
    const m = material(16);
    for (const cipher of [segmentCipher, nodeSegmentCipher]) {
      assert.throws(
        () => cipher.seal(m.key, m.nonce, m.aad, Buffer.from(m.plain), Buffer.alloc(16), 2),
        RangeError,
      );
      assert.throws(
        () => cipher.open(m.key, m.nonce, m.aad, Buffer.from(m.plain), Buffer.alloc(16), -1),
        RangeError,
      );
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

  describe('readOpen (a segment read and opened in one thread-pool job)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-readopen-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** A file holding `junk` bytes, then nonce | ciphertext | tag of `plain` as segmentCipher sealed it. */
    async function sealedFile(name: string, m: ReturnType<typeof material>, junk = 7) {
      const data = Buffer.from(m.plain);
      const tag = Buffer.alloc(16);
      segmentCipher.seal(m.key, m.nonce, m.aad, data, tag);
      const path = join(dir, name);
      await writeFile(path, Buffer.concat([randomBytes(junk), m.nonce, data, tag]));
      return { path, sealedLength: 12 + data.length + 16 };
    }

    it('opens in place what seal sealed, at any position; a short file gives the count read', async () => {
      assert.ok(segmentIo, 'the addon has readOpen');
      const m = material(65_536);
      const { path, sealedLength } = await sealedFile('whole.bin', m);
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(sealedLength + 100, 0xee);
        const got = await segmentIo.readOpen(handle.fd, 7, buffer, sealedLength, m.key, m.aad);
        assert.equal(got, sealedLength);
        assert.ok(buffer.subarray(12, 12 + 65_536).equals(m.plain), 'the plaintext where it was read');
        assert.equal(buffer[sealedLength], 0xee, 'nothing past the segment touched');
        const short = await segmentIo.readOpen(handle.fd, 107, buffer, sealedLength, m.key, m.aad);
        assert.equal(short, sealedLength - 100, 'ended early: the count, nothing opened');
      } finally {
        await handle.close();
      }
    });

    it('answers -1 and leaves zeros for other associated data or a changed byte', async () => {
      assert.ok(segmentIo);
      const m = material(1000);
      const { path, sealedLength } = await sealedFile('tampered.bin', m, 0);
      const handle = await open(path, 'r+');
      try {
        const buffer = Buffer.alloc(sealedLength);
        const aad = Buffer.from(m.aad);
        aad[0]! ^= 1;
        assert.equal(await segmentIo.readOpen(handle.fd, 0, buffer, sealedLength, m.key, aad), -1);
        assert.ok(
          buffer.subarray(12, 12 + 1000).every((b) => b === 0),
          'no unauthenticated plaintext',
        );
        // A changed byte: flipped, since writing a fixed value changes nothing one time in 256 (CI met that once).
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 500);
        await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, 500);
        assert.equal(await segmentIo.readOpen(handle.fd, 0, buffer, sealedLength, m.key, m.aad), -1);
      } finally {
        await handle.close();
      }
    });

    it('rejects a failed read as node:fs would, and bad arguments at once', async () => {
      assert.ok(segmentIo);
      const m = material(10);
      const { path, sealedLength } = await sealedFile('errors.bin', m);
      const writeOnly = await open(path, 'a');
      try {
        const buffer = Buffer.alloc(sealedLength);
        await assert.rejects(segmentIo.readOpen(writeOnly.fd, 0, buffer, sealedLength, m.key, m.aad), {
          code: 'EBADF',
          syscall: 'pread',
        });
        assert.throws(
          () => segmentIo!.readOpen(writeOnly.fd, 0, buffer, sealedLength + 1, m.key, m.aad),
          RangeError,
          'a segment larger than the buffer',
        );
        assert.throws(
          () => segmentIo!.readOpen(writeOnly.fd, 0, buffer, sealedLength, randomBytes(16), m.aad),
          RangeError,
        );
        assert.throws(() => segmentIo!.readOpen(-1, 0, buffer, sealedLength, m.key, m.aad), TypeError);
        assert.throws(
          () => segmentIo!.readOpen(writeOnly.fd, 0, buffer, sealedLength, m.key, m.aad, 7),
          RangeError,
        );
      } finally {
        await writeOnly.close();
      }
    });

    it('readOpenMany reads consecutive segments in one job and answers for each', async () => {
      assert.ok(segmentIo);
      const key = randomBytes(32);
      const chacha = CIPHER_IDS['chacha20-poly1305'];
      const sizes = [65_536, 65_536, 65_536, 1000];
      const aads = sizes.map(() => randomBytes(25));
      const plains = sizes.map((n) => randomBytes(n));
      const stored = plains.map((plain, i) => {
        const nonce = randomBytes(12);
        const data = Buffer.from(plain);
        const tag = Buffer.alloc(16);
        segmentCipher.seal(key, nonce, aads[i]!, data, tag, chacha);
        return Buffer.concat([nonce, data, tag]);
      });
      stored[1]![700]! ^= 1;
      const path = join(dir, 'many.bin');
      await writeFile(path, Buffer.concat([randomBytes(5), ...stored]));
      const lengths = sizes.map((n) => n + 28);
      const handle = await open(path, 'r');
      try {
        const buffers = sizes.map(() => Buffer.alloc(65_536 + 28, 0xee));
        const got = await segmentIo.readOpenMany(handle.fd, 5, buffers, lengths, key, aads, chacha);
        assert.deepEqual(got, [lengths[0], -1, lengths[2], lengths[3]], 'the changed one alone fails');
        for (const i of [0, 2, 3]) assert.ok(buffers[i]!.subarray(12, 12 + sizes[i]!).equals(plains[i]!));
        assert.ok(
          buffers[1]!.subarray(12, 12 + 65_536).every((b) => b === 0),
          'no unauthenticated plaintext',
        );
        // The file ends inside a segment asked for: its result is the bytes there were, those after it 0.
        const full = 65_536 + 28;
        const tail = await segmentIo.readOpenMany(
          handle.fd,
          5 + 3 * full,
          buffers.slice(0, 2),
          [full, full],
          key,
          aads.slice(3, 4).concat(aads.slice(3, 4)),
          chacha,
        );
        assert.deepEqual(tail, [1028, 0]);
        assert.throws(() => segmentIo!.readOpenMany(handle.fd, 0, [], [], key, [], chacha), RangeError);
        assert.throws(
          () => segmentIo!.readOpenMany(handle.fd, 0, buffers, lengths.slice(1), key, aads, chacha),
          RangeError,
        );
        const many = Array.from({ length: 33 }, () => Buffer.alloc(100));
        assert.throws(
          () =>
            segmentIo!.readOpenMany(
              handle.fd,
              0,
              many,
              many.map(() => 50),
              key,
              many.map(() => aads[0]!),
              chacha,
            ),
          RangeError,
          'at most 32 segments a job',
        );
      } finally {
        await handle.close();
      }
    });

    it('opens a ChaCha20-Poly1305 segment when told so, and not as AES-256-GCM', async () => {
      assert.ok(segmentIo);
      const m = material(65_536);
      const chacha = CIPHER_IDS['chacha20-poly1305'];
      const data = Buffer.from(m.plain);
      const tag = Buffer.alloc(16);
      segmentCipher.seal(m.key, m.nonce, m.aad, data, tag, chacha);
      const path = join(dir, 'chacha.bin');
      await writeFile(path, Buffer.concat([m.nonce, data, tag]));
      const sealedLength = 12 + data.length + 16;
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(sealedLength);
        assert.equal(
          await segmentIo.readOpen(handle.fd, 0, buffer, sealedLength, m.key, m.aad),
          -1,
          'as AES',
        );
        assert.equal(
          await segmentIo.readOpen(handle.fd, 0, buffer, sealedLength, m.key, m.aad, chacha),
          sealedLength,
        );
        assert.ok(buffer.subarray(12, 12 + 65_536).equals(m.plain));
      } finally {
        await handle.close();
      }
    });
  });
});
