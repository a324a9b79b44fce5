// Encrypted storage as a user would find it: same bytes back at any offset, nothing readable on disk, tampering refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile as writeRaw } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { FerryError } from '../../errors.js';
import { RunTracker, runProperty } from '../../util/fuzz-fixture.js';
import { LimitedFs } from '../limited-fs-fixture.js';
import type { Fs } from '../types.js';
import { HEADER_SIZE, SEALED_SEGMENT_SIZE, SEGMENT_SIZE } from './container.js';
import { EncryptedFs } from './encrypted-fs.js';
import { type EncryptedFixture, encryptedFixture, newMasterKey } from './encrypted-fs-fixture.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

const S = SEGMENT_SIZE;

async function put(fs: Fs, path: string, data: Buffer): Promise<void> {
  const file = await fs.open(path, { read: false, write: true, create: true, truncate: true });
  try {
    // 32 KiB writes, as OpenSSH sftp sends them.
    for (let at = 0; at < data.length; at += 32_768) await file.write(at, data.subarray(at, at + 32_768));
  } finally {
    await file.close();
  }
}

async function get(fs: Fs, path: string): Promise<Buffer> {
  const file = await fs.open(path, { read: true, write: false });
  try {
    const chunks: Buffer[] = [];
    for (let at = 0; ; ) {
      const chunk = await file.read(at, 32_768);
      if (chunk.length === 0) break;
      chunks.push(chunk);
      at += chunk.length;
    }
    return Buffer.concat(chunks);
  } finally {
    await file.close();
  }
}

async function rejectsWithIo(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof FerryError && err.code === 'ERR_IO');
}

// Every case with each segment cipher: the container and its checks are the same whatever seals the segments.
for (const cipher of ['aes-256-gcm', 'chacha20-poly1305'] as const)
  describe(`encrypted storage (${cipher})`, () => {
    let fx: EncryptedFixture;
    const p = (name: string) => join(fx.root, name);
    beforeEach(async () => {
      fx = await encryptedFixture('read', cipher);
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('stores no plaintext on disk and shows plaintext sizes in stat and listings', async () => {
      const marker = Buffer.from('FERRY-SECRET-MARKER-7f3a');
      const data = Buffer.concat([randomBytes(100_000), marker, Buffer.alloc(S, 'x'), marker]);
      await put(fx.fs, p('doc.bin'), data);
      const stored = await readFile(p('doc.bin'));
      assert.equal(stored.indexOf(marker), -1, 'the marker is not on disk');
      assert.ok(stored.length > data.length, 'the container is larger than the plaintext');
      assert.equal((await fx.fs.stat(p('doc.bin'))).size, data.length);
      assert.equal((await fx.fs.lstat(p('doc.bin'))).size, data.length);
      const dir = await fx.fs.opendir(fx.root);
      const entries = (await dir.read()) ?? [];
      await dir.close();
      assert.equal(entries.find((e) => e.name === 'doc.bin')?.stat.size, data.length);
      assert.ok((await get(fx.fs, p('doc.bin'))).equals(data));
    });

    it('reads files written before encryption was on as they are, unless plain files are refused', async () => {
      await writeRaw(p('old.txt'), 'written in plain before encryption\n');
      assert.equal((await get(fx.fs, p('old.txt'))).toString(), 'written in plain before encryption\n');
      assert.equal((await fx.fs.stat(p('old.txt'))).size, 35);
      const strict = new EncryptedFs(fx.raw, {
        keys: new StorageKeyRing(storageKekOf(fx.master)),
        plaintextFiles: 'refuse',
      });
      await rejectsWithIo(strict.open(p('old.txt'), { read: true, write: false }));
    });

    it('matches a reference buffer under random writes, truncates, reopens and reads at any offset', async (t) => {
      const runs = new RunTracker();
      const op = fc.oneof(
        fc.record({ kind: fc.constant('write' as const), at: fc.nat(4 * S), length: fc.nat(2 * S + 7) }),
        fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(4 * S) }),
        fc.record({ kind: fc.constant('read' as const), at: fc.nat(4 * S + 10), length: fc.nat(3 * S) }),
        fc.constant({ kind: 'reopen' as const }),
        // Pipelined, as SFTP clients send them: issued together, applied in order.
        fc.record({
          kind: fc.constant('reads' as const),
          reads: fc.array(fc.record({ at: fc.nat(4 * S), length: fc.nat(100_000) }), { maxLength: 8 }),
        }),
        fc.record({
          kind: fc.constant('burst' as const),
          writes: fc.array(fc.record({ at: fc.nat(4 * S), length: fc.nat(40_000) }), { maxLength: 8 }),
        }),
      );
      let n = 0;
      await runProperty(
        t,
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), (ops) =>
          runs.track(
            (async () => {
              const path = p(`prop-${n++}`);
              let model = Buffer.alloc(0);
              let file = await fx.fs.open(path, { read: true, write: true, create: true, truncate: true });
              try {
                const apply = (at: number, data: Buffer) => {
                  if (data.length === 0) return;
                  const grown = Buffer.alloc(Math.max(model.length, at + data.length));
                  model.copy(grown);
                  data.copy(grown, at);
                  model = grown;
                };
                for (const o of ops) {
                  if (o.kind === 'write') {
                    const data = randomBytes(o.length);
                    await file.write(o.at, data);
                    apply(o.at, data);
                  } else if (o.kind === 'reads') {
                    const open = file;
                    const got = await Promise.all(o.reads.map((r) => open.read(r.at, r.length)));
                    for (const [i, r] of o.reads.entries()) {
                      assert.ok(
                        got[i]!.equals(model.subarray(r.at, r.at + r.length)),
                        `pipelined read at ${r.at}`,
                      );
                    }
                  } else if (o.kind === 'burst') {
                    const writes = o.writes.map((w) => ({ at: w.at, data: randomBytes(w.length) }));
                    const open = file;
                    await Promise.all(writes.map((w) => open.write(w.at, w.data)));
                    for (const w of writes) apply(w.at, w.data);
                  } else if (o.kind === 'truncate') {
                    await file.truncate(o.at);
                    const cut = Buffer.alloc(o.at);
                    model.copy(cut, 0, 0, Math.min(o.at, model.length));
                    model = cut;
                  } else if (o.kind === 'read') {
                    const got = await file.read(o.at, o.length);
                    assert.ok(
                      got.equals(model.subarray(o.at, o.at + o.length)),
                      `read ${o.length} at ${o.at}`,
                    );
                  } else {
                    await file.close();
                    file = await fx.fs.open(path, { read: true, write: true });
                  }
                  assert.equal((await file.stat()).size, model.length);
                }
              } finally {
                await file.close();
              }
              assert.equal((await fx.fs.stat(path)).size, model.length);
              assert.ok((await get(fx.fs, path)).equals(model), 'whole file after close');
            })(),
          ),
        ),
        60,
        8000,
      );
    });

    it('resumes an upload where the stored file ends', async () => {
      const data = randomBytes(5 * S + 1234);
      await put(fx.fs, p('big'), data.subarray(0, 2 * S + 999));
      const resumed = await fx.fs.open(p('big'), { read: false, write: true });
      const from = (await fx.fs.stat(p('big'))).size;
      assert.equal(from, 2 * S + 999);
      for (let at = from; at < data.length; at += 32_768)
        await resumed.write(at, data.subarray(at, at + 32_768));
      await resumed.close();
      assert.ok((await get(fx.fs, p('big'))).equals(data));
    });

    it('fails the read of a segment with one flipped byte, never returning wrong data', async () => {
      const data = randomBytes(3 * S);
      await put(fx.fs, p('f'), data);
      const stored = await readFile(p('f'));
      stored[HEADER_SIZE + SEALED_SEGMENT_SIZE + 100]! ^= 0x01;
      await writeRaw(p('f'), stored);
      const file = await fx.fs.open(p('f'), { read: true, write: false });
      assert.ok((await file.read(0, 1000)).equals(data.subarray(0, 1000)), 'other segments still read');
      await rejectsWithIo(file.read(S + 5, 10));
      await file.close();
      await rejectsWithIo(get(fx.fs, p('f')));
    });

    it('detects two segments swapped', async () => {
      await put(fx.fs, p('f'), randomBytes(3 * S));
      const stored = await readFile(p('f'));
      const a = HEADER_SIZE;
      const b = HEADER_SIZE + SEALED_SEGMENT_SIZE;
      const first = Buffer.from(stored.subarray(a, b));
      stored.copy(stored, a, b, b + SEALED_SEGMENT_SIZE);
      first.copy(stored, b);
      await writeRaw(p('f'), stored);
      await rejectsWithIo(get(fx.fs, p('f')));
    });

    it("detects two files' contents swapped under their headers, and a segment spliced from another file", async () => {
      await put(fx.fs, p('a'), randomBytes(2 * S + 10));
      await put(fx.fs, p('b'), randomBytes(2 * S + 10));
      const a = await readFile(p('a'));
      const b = await readFile(p('b'));
      await writeRaw(p('a'), Buffer.concat([a.subarray(0, HEADER_SIZE), b.subarray(HEADER_SIZE)]));
      await writeRaw(p('b'), Buffer.concat([b.subarray(0, HEADER_SIZE), a.subarray(HEADER_SIZE)]));
      await rejectsWithIo(get(fx.fs, p('a')));
      await rejectsWithIo(get(fx.fs, p('b')));
      const spliced = Buffer.from(b);
      a.copy(
        spliced,
        HEADER_SIZE + SEALED_SEGMENT_SIZE,
        HEADER_SIZE + SEALED_SEGMENT_SIZE,
        HEADER_SIZE + 2 * SEALED_SEGMENT_SIZE,
      );
      await writeRaw(p('b'), spliced);
      await rejectsWithIo(get(fx.fs, p('b')));
    });

    it('detects a container cut short, at a segment boundary or inside a segment', async () => {
      const data = randomBytes(3 * S + 500);
      await put(fx.fs, p('f'), data);
      const stored = await readFile(p('f'));
      for (const cut of [
        HEADER_SIZE + 2 * SEALED_SEGMENT_SIZE,
        HEADER_SIZE + SEALED_SEGMENT_SIZE + 4000,
        HEADER_SIZE + 10,
      ]) {
        await writeRaw(p('f'), stored.subarray(0, cut));
        await rejectsWithIo(get(fx.fs, p('f')));
      }
      // A whole file that is a multiple of the segment size ends in an empty final segment: cutting it off shows.
      await put(fx.fs, p('g'), randomBytes(2 * S));
      const whole = await readFile(p('g'));
      await writeRaw(p('g'), whole.subarray(0, whole.length - 28));
      await rejectsWithIo(get(fx.fs, p('g')));
    });

    it('refuses a backend that cannot write in place', () => {
      assert.throws(
        () => new EncryptedFs(new LimitedFs(fx.raw), { keys: new StorageKeyRing(storageKekOf(fx.master)) }),
        (err: unknown) => err instanceof FerryError && err.code === 'ERR_UNSUPPORTED',
      );
    });

    it('with newFiles plain, stores new files as they are and still reads and extends the containers', async () => {
      const container = randomBytes(S + 99);
      await put(fx.fs, p('enc'), container);
      const plain = new EncryptedFs(fx.raw, {
        keys: new StorageKeyRing(storageKekOf(fx.master)),
        newFiles: 'plain',
      });
      await put(plain, p('new'), Buffer.from('hello, plain'));
      assert.equal(await readFile(p('new'), 'utf8'), 'hello, plain');
      assert.ok((await get(plain, p('enc'))).equals(container));
      const file = await plain.open(p('enc'), { read: true, write: true, create: false, truncate: false });
      await file.write(container.length, Buffer.from('more'));
      await file.close();
      assert.ok((await get(fx.fs, p('enc'))).equals(Buffer.concat([container, Buffer.from('more')])));
      assert.equal((await readFile(p('enc'))).indexOf('more'), -1, 'an extended container stays encrypted');
    });

    it('refuses files whose key was wrapped under another master key', async () => {
      await put(fx.fs, p('f'), Buffer.from('hello'));
      const other = new EncryptedFs(fx.raw, {
        keys: new StorageKeyRing(storageKekOf(await newMasterKey(fx.root, 'other.key'))),
      });
      await rejectsWithIo(other.open(p('f'), { read: true, write: false }));
    });
  });
