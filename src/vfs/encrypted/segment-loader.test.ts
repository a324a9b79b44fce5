// Segments a read spans load in one native job; each still settles on its own (its own failure, its own bytes).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeHeader, finalIndex, HEADER_SIZE, SEGMENT_SIZE, segmentOffset } from './container.js';
import { type EncryptedFixture, encryptedFixture } from './encrypted-fs-fixture.js';
import { segmentBuffers } from './segment-buffers.js';
import { SegmentCache } from './segment-cache.js';
import { type SegmentIo, segmentIo } from './segment-cipher.js';
import { SegmentLoader } from './segment-loader.js';
import { SegmentReads } from './segment-reads.js';
import { StorageKeyRing, storageKekOf } from './storage-keys.js';

const S = SEGMENT_SIZE;
let fx: EncryptedFixture;
before(async () => {
  fx = await encryptedFixture();
});
after(() => fx.cleanup());

/** Segment-sized jobs as the addon ran them: how many segments each read. */
function counting(): { io: SegmentIo; jobs: number[] } {
  assert.ok(segmentIo, 'the addon has readOpenMany');
  const jobs: number[] = [];
  const io: SegmentIo = {
    readOpen: (...args) => segmentIo!.readOpen(...args),
    readOpenMany: (fd, position, buffers, ...rest) => {
      jobs.push(buffers.length);
      return segmentIo!.readOpenMany(fd, position, buffers, ...rest);
    },
  };
  return { io, jobs };
}

/** A container of `data` and a loader over its file, reading through `io`. */
async function loaderOf(name: string, data: Buffer, io: SegmentIo) {
  const path = join(fx.root, name);
  const up = await fx.fs.open(path, { read: false, write: true, create: true, truncate: true });
  await up.write(0, data);
  await up.close();
  const file = await fx.raw.open(path, { read: true, write: false });
  const keys = decodeHeader(
    await file.read(0, HEADER_SIZE),
    new StorageKeyRing(storageKekOf(fx.master)),
    path,
  );
  const cache = new SegmentCache();
  const loader = new SegmentLoader(cache, new SegmentReads(file, keys, path, io), {
    diskFinal: () => ({ index: finalIndex(data.length), length: data.length % S }),
    settle: async () => {},
  });
  return { keys, path, file, cache, loader };
}

const plainOf = (segment: { plain: Buffer; length: number }) => segment.plain.subarray(0, segment.length);

test('the missing segments of a span load in one job, the cached and loading ones are not loaded again', async () => {
  const data = randomBytes(40 * S + 123);
  const { io, jobs } = counting();
  const { file, loader } = await loaderOf('span.bin', data, io);
  try {
    const first = await Promise.all(loader.segments(0, 5));
    assert.deepEqual(jobs, [5], 'one job for five segments');
    first.forEach((segment, i) => {
      assert.ok(plainOf(segment).equals(data.subarray(i * S, (i + 1) * S)), `segment ${i}`);
    });
    // 3 and 4 are cached; 5 is loading when 4..8 are asked for; 6..8 go in one job of their own.
    const five = loader.segment(5);
    const next = await Promise.all(loader.segments(3, 6));
    assert.deepEqual(jobs, [5, 1, 3]);
    assert.equal(await five, next[2], 'the load in flight is shared');
    // The final (short) segment and a run longer than one job allows.
    const rest = await Promise.all(loader.segments(9, 32));
    assert.deepEqual(jobs, [5, 1, 3, 32]);
    assert.ok(plainOf(rest.at(-1)!).equals(data.subarray(40 * S)), 'the final segment, 123 bytes');
  } finally {
    await file.close();
  }
});

test('a segment that fails in a batch fails alone; the others of its job load', async () => {
  const data = randomBytes(6 * S);
  const { io, jobs } = counting();
  const { path, file, loader } = await loaderOf('tampered.bin', data, io);
  const stored = await readFile(path);
  stored[segmentOffset(2) + 500]! ^= 1;
  await writeFile(path, stored);
  try {
    const free = segmentBuffers.free;
    const outcomes = await Promise.allSettled(loader.segments(0, 5));
    assert.deepEqual(jobs, [5]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /segment 2 failed authentication/);
    // Five taken (from the pool while it had any), four kept by the cache, the failed one given back.
    assert.equal(segmentBuffers.free, Math.max(free - 5, 0) + 1, "the failed segment's buffer went back");
    // Asked again, it is loaded again (nothing kept from the failure) and fails again.
    await assert.rejects(loader.segment(2), /segment 2 failed authentication/);
  } finally {
    await file.close();
  }
});

test('a read failing on one segment lets no write in before the loads it started settle (no stale segment after)', async () => {
  // Found by review: R1 fails on segment 1 at once; R2 shares that load and started one job for 2..33. Had R2's
  // turn ended with the failure, the write below would have run while that job still read the old segment 2,
  // which then landed in the cache as clean: the same handle read the old bytes back, and a later small write
  // into the segment put them back on disk.
  const path = join(fx.root, 'stale.bin');
  const w = await fx.fs.open(path, { read: false, write: true, create: true, truncate: true });
  await w.write(0, Buffer.alloc(40 * S, 'a'));
  await w.close();
  const stored = await readFile(path);
  stored[segmentOffset(1) + 100]! ^= 0x55;
  await writeFile(path, stored);
  for (let trial = 0; trial < 20; trial++) {
    const file = await fx.fs.open(path, { read: true, write: true });
    try {
      const mark = String.fromCharCode(66 + trial);
      const r1 = file.read(S, 100);
      const r2 = file.read(S, 33 * S);
      const written = file.write(2 * S, Buffer.alloc(S, mark));
      await assert.rejects(r1, /segment 1 failed authentication/);
      await assert.rejects(r2, /segment 1 failed authentication/);
      await written;
      await file.write(2 * S + 10, Buffer.from('Z'));
      assert.equal((await file.read(2 * S, 12)).toString(), `${mark.repeat(10)}Z${mark}`, `trial ${trial}`);
    } finally {
      await file.close();
    }
    const again = await fx.fs.open(path, { read: true, write: false });
    assert.equal(
      (await again.read(2 * S, 12)).toString(),
      `${String.fromCharCode(66 + trial).repeat(10)}Z${String.fromCharCode(66 + trial)}`,
    );
    await again.close();
  }
});

test('without the job, loadMany rejects a failed read only once the others of the run let go of their buffers', async () => {
  const data = randomBytes(3 * S);
  // The loader's raw file and keys, read here through a SegmentReads of its own without the job.
  const { path, file: inner, keys } = await loaderOf('through-file.bin', data, counting().io);
  let slowDone = false;
  // Segment 1's read fails at once (EIO); segment 0's is still reading into its buffer for 50 ms.
  const flaky = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'descriptor') return undefined;
      if (prop !== 'read') return Reflect.get(target, prop, receiver);
      return async (position: number, length: number, headroom?: number, into?: Buffer) => {
        if (position === segmentOffset(1))
          throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        await new Promise((r) => setTimeout(r, 50));
        const got = await target.read(position, length, headroom, into);
        slowDone = true;
        return got;
      };
    },
  });
  const reads = new SegmentReads(flaky, keys, path, undefined);
  assert.equal(reads.batched, false);
  const buffers = [0, 1].map(() => segmentBuffers.take());
  try {
    await assert.rejects(reads.loadMany(0, [false, false], buffers, [S + 28, S + 28]), /EIO/);
    assert.equal(slowDone, true, 'the other read had finished with its buffer');
  } finally {
    for (const buffer of buffers) segmentBuffers.give(buffer);
    await inner.close();
  }
});
