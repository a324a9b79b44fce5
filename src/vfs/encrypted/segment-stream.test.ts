// Encrypted files written front to back by the segment thread (segment-stream.ts, native/aead/src/segseal.c):
// the same plaintext back through a later open, whole after a sync, and a thread only while it is needed.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { namedThreads } from '../../util/named-threads-fixture.js';
import { containerSize, newHeader, SEGMENT_SIZE, segmentOffset } from './container.js';
import { EncryptedFs } from './encrypted-fs.js';
import { type EncryptedFixture, encryptedFixture } from './encrypted-fs-fixture.js';
import { SegmentStream, segmentStreamLimits } from './segment-stream.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

assert.ok(segmentStreamLimits, 'native/aead is built with its segment thread');
const { ringBytes: RING, maxThreads: MAX_THREADS } = segmentStreamLimits;
const S = SEGMENT_SIZE;
// Segment threads only: other threads of the process (V8's, a thread of an earlier test) may end meanwhile.
const threads = () => namedThreads('ferry-segments');
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let fx: EncryptedFixture;
before(async () => {
  fx = await encryptedFixture();
});
after(() => fx.cleanup());
const p = (name: string) => join(fx.root, name);
const newKeys = () => newHeader(new StorageKeyRing(storageKekOf(fx.master))).keys;
const writable = { read: false, write: true, create: true, truncate: false } as const;

/** Writes `data` at `from` in `piece`-byte writes, `depth` of them in flight at once (a pipelining client). */
async function pipelined(name: string, data: Buffer, from = 0, piece = 32_768, depth = 64): Promise<void> {
  const file = await fx.fs.open(p(name), from === 0 ? { ...writable, truncate: true } : writable);
  const inflight: Array<Promise<void>> = [];
  for (let at = 0; at < data.length; at += piece) {
    inflight.push(file.write(from + at, data.subarray(at, at + piece)));
    if (inflight.length >= depth) await inflight.shift();
  }
  await Promise.all(inflight);
  await file.close();
}

async function readBack(name: string): Promise<Buffer> {
  const file = await fx.fs.open(p(name), { read: true, write: false });
  try {
    const { size } = await file.stat();
    return await file.read(0, size);
  } finally {
    await file.close();
  }
}

test('sizes around segments, the thread batch and the ring come back whole, in containers of the right size', async () => {
  const sizes = [1, S - 1, S, S + 1, 8 * S, 8 * S + 5, 9 * S, RING - 1, RING + 3 * S + 17, 2 * RING];
  for (const size of sizes) {
    const data = randomBytes(size);
    await pipelined(`size-${size}`, data, 0, size > S ? 65_000 : 4096);
    assert.equal(statSync(p(`size-${size}`)).size, containerSize(size), `container size for ${size}`);
    assert.equal(sha(await readBack(`size-${size}`)), sha(data), `plaintext of ${size} bytes`);
  }
});

test('the thread seals with the file’s cipher, each nonce led by its segment index', async () => {
  // The same store and keys, new files sealed with ChaCha20-Poly1305.
  const chacha = new EncryptedFs(fx.raw, {
    keys: new StorageKeyRing(storageKekOf(fx.master)),
    cipher: 'chacha20-poly1305',
  });
  for (const [which, fs] of [
    ['aes-256-gcm', fx.fs],
    ['chacha20-poly1305', chacha],
  ] as const) {
    const data = randomBytes(20 * S + 77);
    const name = `cipher-${which}`;
    const before = threads();
    const file = await fs.open(p(name), { ...writable, truncate: true });
    await file.write(0, data.subarray(0, S));
    assert.equal(threads(), before + 1, `${which}: written by the segment thread`);
    await file.write(S, data.subarray(S));
    await file.close();
    const raw = readFileSync(p(name));
    assert.equal(raw.readUInt8(8), which === 'aes-256-gcm' ? 1 : 2, `${which}: the header's format`);
    for (let index = 0; index <= 20; index++) {
      assert.equal(raw.readUInt32BE(segmentOffset(index)), index, `${which}: nonce of segment ${index}`);
    }
    // Read through the AES-configured view: the header, not the setting, says how a file reads.
    assert.equal(sha(await readBack(name)), sha(data), `${which}: read back`);
  }
});

test('a resumed upload starts its thread from the stored final segment', async () => {
  const first = randomBytes(3 * S + 1234);
  const rest = randomBytes(5 * S + 99);
  await pipelined('resumed', first);
  await pipelined('resumed', rest, first.length);
  assert.equal(sha(await readBack('resumed')), sha(Buffer.concat([first, rest])));
});

test('a sync puts everything written on disk as a whole file, and the upload goes on after it', async () => {
  const data = randomBytes(5 * S + 321);
  const file = await fx.fs.open(p('synced'), { ...writable, truncate: true });
  try {
    await file.write(0, data.subarray(0, 3 * S + 100));
    await file.sync();
    // What a second reader (or a server restarted now) sees: the synced part, authenticated to its end.
    assert.equal(sha(await readBack('synced')), sha(data.subarray(0, 3 * S + 100)));
    await file.write(3 * S + 100, data.subarray(3 * S + 100));
  } finally {
    await file.close();
  }
  assert.equal(sha(await readBack('synced')), sha(data));
});

test('a read, an out-of-order write or a truncate ends the stream, and the file stays right', async () => {
  const data = randomBytes(4 * S);
  const file = await fx.fs.open(p('mixed'), { read: true, write: true, create: true, truncate: true });
  try {
    await file.write(0, data.subarray(0, 2 * S + 10));
    assert.deepEqual(await file.read(S - 5, 20), data.subarray(S - 5, S + 15));
    await file.write(2 * S + 10, data.subarray(2 * S + 10, 3 * S));
    await file.write(10, data.subarray(10, 30));
    await file.write(3 * S, data.subarray(3 * S));
    await file.truncate(4 * S - 7);
  } finally {
    await file.close();
  }
  assert.equal(sha(await readBack('mixed')), sha(data.subarray(0, 4 * S - 7)));
});

test('times set on the handle stay: the stream ends there, so close writes nothing after them', async () => {
  const data = randomBytes(3 * S + 5);
  const file = await fx.fs.open(p('dated'), { ...writable, truncate: true });
  try {
    await file.write(0, data);
    await file.utimes(981_173_106, 981_173_106);
  } finally {
    await file.close();
  }
  assert.equal(statSync(p('dated')).mtimeMs, 981_173_106_000);
  assert.equal(sha(await readBack('dated')), sha(data));
});

test('the thread runs only while the file is written: none is left after close', async () => {
  const before = threads();
  const file = await fx.fs.open(p('thread'), { ...writable, truncate: true });
  await file.write(0, randomBytes(S));
  assert.equal(threads(), before + 1, 'a write at the end of a local file starts the segment thread');
  await file.close();
  for (let i = 0; i < 50 && threads() > before; i++) await new Promise((r) => setTimeout(r, 10));
  // At most as many: other threads of the process (Node 24's V8 workers, a thread of an earlier test) may end too.
  assert.ok(threads() <= before, `${threads()} threads after close, ${before} before`);
});

test('a disk write that fails on the thread fails the stream with the system error', async () => {
  const path = p('read-only');
  closeSync(openSync(path, 'w'));
  const fd = openSync(path, 'r');
  try {
    const stream = SegmentStream.start(fd, 0, newKeys());
    assert.ok(stream);
    // More than a batch of segments: the thread writes (and fails) before the end is asked for.
    const failed = await stream
      .push(randomBytes(16 * S))
      .then(() => stream.end())
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    assert.match(String((failed as Error | undefined)?.message), /EBADF/);
    await assert.rejects(stream.push(Buffer.alloc(1)), /EBADF/);
  } finally {
    closeSync(fd);
  }
});

test('at most maxThreads files stream at once; beyond that a file seals on its own thread, and both read back', async () => {
  const files = [];
  const data = randomBytes(2 * S + 3);
  try {
    for (let i = 0; i < MAX_THREADS + 2; i++) {
      const file = await fx.fs.open(p(`busy-${i}`), { ...writable, truncate: true });
      files.push(file);
      await file.write(0, data);
    }
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
  for (let i = 0; i < MAX_THREADS + 2; i++) assert.equal(sha(await readBack(`busy-${i}`)), sha(data));
  const fd = openSync(p('after'), 'w');
  try {
    const again = SegmentStream.start(fd, 0, newKeys());
    assert.ok(again, 'threads are free again once the files are closed');
    await again.end();
  } finally {
    closeSync(fd);
  }
});

test('24 files at once for 3 s (more than the threads), appending, syncing, reading, resuming: every byte as written', async () => {
  const deadline = Date.now() + 3000;
  const random = (n: number) => Math.floor(Math.random() * n);
  const worker = async (name: string): Promise<void> => {
    let model = Buffer.alloc(0);
    let file = await fx.fs.open(p(name), { read: true, write: true, create: true, truncate: true });
    try {
      while (Date.now() < deadline) {
        const roll = random(20);
        if (roll < 14) {
          // A burst of pipelined appends of odd sizes, some across segment and ring boundaries.
          const pieces = Array.from({ length: 1 + random(8) }, () => randomBytes(1 + random(3 * S)));
          let at = model.length;
          await Promise.all(
            pieces.map((piece) => {
              const write = file.write(at, piece);
              at += piece.length;
              return write;
            }),
          );
          model = Buffer.concat([model, ...pieces]);
        } else if (roll < 16) {
          await file.sync();
        } else if (roll < 18 && model.length > 0) {
          const at = random(model.length);
          const length = 1 + random(2 * S);
          assert.deepEqual(
            await file.read(at, length),
            model.subarray(at, at + length),
            `${name} read at ${at}`,
          );
        } else {
          await file.close();
          file = await fx.fs.open(p(name), { read: true, write: true, create: false, truncate: false });
        }
      }
    } finally {
      await file.close();
    }
    assert.equal(sha(await readBack(name)), sha(model), `${name}: ${model.length} bytes`);
  };
  const before = threads();
  await Promise.all(Array.from({ length: MAX_THREADS + 8 }, (_, i) => worker(`race-${i}`)));
  for (let i = 0; i < 100 && threads() > before; i++) await new Promise((r) => setTimeout(r, 10));
  // At most as many: other threads of the process (Node 24's V8 workers, a thread of an earlier test) may end too.
  assert.ok(
    threads() <= before,
    `no segment thread outlives its file: ${threads()} threads after, ${before} before`,
  );
});

test('pushes that find the ring full, at paces around the thread, always hear back that there is room (5 s)', async () => {
  // The race: the thread empties the ring and sleeps between the two locked halves of a push that did not fit.
  const source = randomBytes(1 << 20);
  const spin = (us: number) => {
    const until = process.hrtime.bigint() + BigInt(Math.floor(us * 1000));
    while (process.hrtime.bigint() < until);
  };
  const fd = openSync(p('paced'), 'w');
  const deadline = Date.now() + 5000;
  try {
    while (Date.now() < deadline) {
      const stream = SegmentStream.start(fd, 0, newKeys());
      assert.ok(stream);
      const pace = Math.random() * 200;
      for (let total = 0; total < 24 << 20 && Date.now() < deadline; ) {
        const n = 4096 + Math.floor(Math.random() * 300_000);
        let timer: NodeJS.Timeout | undefined;
        const pushed = await Promise.race([
          stream.push(source.subarray(0, n)).then(() => true),
          new Promise<false>((resolve) => {
            timer = setTimeout(() => resolve(false), 10_000);
          }),
        ]);
        clearTimeout(timer);
        if (!pushed) {
          await stream.end(true);
          assert.fail(`a push of ${n} bytes waited 10 s for room that never came (${total} bytes in)`);
        }
        total += n;
        if (pace > 0) spin(Math.random() * pace);
        if (Math.random() < 0.01) await new Promise((r) => setImmediate(r));
      }
      await stream.end();
    }
  } finally {
    closeSync(fd);
  }
});
