// Reads of one descriptor on a real file: those asked while one is in flight go out as one preadv, each gets its
// own bytes, the end of the file and short preadv counts are told apart, and errors reach every waiting read.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FerryError } from '../../errors.js';
import { countingIo } from './read-calls-fixture.js';
import { ReadQueue } from './read-queue.js';

const KIB = 1024;
let dir: string;
let path: string;
const data = randomBytes(1024 * KIB + 100);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-read-queue-'));
  path = join(dir, 'file.bin');
  await writeFile(path, data);
});
after(() => rm(dir, { recursive: true, force: true }));

async function withFd<T>(run: (fd: number) => Promise<T>): Promise<T> {
  const fd = fs.openSync(path, 'r');
  try {
    return await run(fd);
  } finally {
    fs.closeSync(fd);
  }
}

test('64 pipelined 16 KiB reads: the first alone, the other 63 in one preadv, each with its own bytes', async () => {
  await withFd(async (fd) => {
    const { counts, io } = countingIo();
    const queue = new ReadQueue(fd, io);
    const buffers = Array.from({ length: 64 }, () => Buffer.alloc(13 + 16 * KIB));
    const counts64 = await Promise.all(buffers.map((b, i) => queue.pread(b, 13, 16 * KIB, i * 16 * KIB)));
    assert.deepEqual(counts64, Array(64).fill(16 * KIB));
    buffers.forEach((b, i) => {
      assert.ok(b.subarray(13).equals(data.subarray(i * 16 * KIB, (i + 1) * 16 * KIB)), `read ${i}`);
      assert.ok(b.subarray(0, 13).equals(Buffer.alloc(13)), 'the headroom is left alone');
    });
    assert.equal(counts.read, 1);
    assert.deepEqual(counts.readvBuffers, [63]);
  });
});

test('reads that do not continue one another go out in runs, in the order asked', async () => {
  await withFd(async (fd) => {
    const { counts, io } = countingIo();
    const queue = new ReadQueue(fd, io);
    const at = [0, 100 * KIB, 104 * KIB, 500 * KIB, 504 * KIB, 508 * KIB, 8 * KIB];
    const buffers = at.map(() => Buffer.alloc(4 * KIB));
    await Promise.all(buffers.map((b, i) => queue.pread(b, 0, 4 * KIB, at[i]!)));
    for (const [i, b] of buffers.entries()) {
      assert.ok(b.equals(data.subarray(at[i]!, at[i]! + 4 * KIB)), `read at ${at[i]}`);
    }
    // 0 alone; then 100k+104k, 500k+504k+508k, 8k.
    assert.equal(counts.read, 2);
    assert.deepEqual(counts.readvBuffers, [2, 3]);
  });
});

test('at the end of the file: the read it falls in gets what is there, those after it get 0', async () => {
  await withFd(async (fd) => {
    const queue = new ReadQueue(fd, countingIo().io);
    const size = data.length;
    const start = size - 100 - 64 * KIB;
    const buffers = Array.from({ length: 5 }, () => Buffer.alloc(64 * KIB));
    const got = await Promise.all(buffers.map((b, i) => queue.pread(b, 0, 64 * KIB, start + i * 64 * KIB)));
    assert.deepEqual(got, [64 * KIB, 100, 0, 0, 0]);
    assert.ok(buffers[1]!.subarray(0, 100).equals(data.subarray(size - 100)));
  });
});

test('a short preadv is not the end of the file: the reads after the short count are read again', async () => {
  await withFd(async (fd) => {
    const { counts, io } = countingIo(true);
    const queue = new ReadQueue(fd, io);
    const buffers = Array.from({ length: 8 }, () => Buffer.alloc(8 * KIB));
    const got = await Promise.all(buffers.map((b, i) => queue.pread(b, 0, 8 * KIB, i * 8 * KIB)));
    // The first alone (whole); the other 7 in one preadv cut to half: 3 whole, the 4th half, 3 read again.
    assert.deepEqual(got, [8 * KIB, 8 * KIB, 8 * KIB, 8 * KIB, 4 * KIB, 8 * KIB, 8 * KIB, 8 * KIB]);
    for (const [i, b] of buffers.entries()) {
      assert.ok(b.subarray(0, got[i]).equals(data.subarray(i * 8 * KIB, i * 8 * KIB + got[i]!)), `read ${i}`);
    }
    assert.equal(counts.readv, 1);
    assert.equal(counts.read, 1 + 3);
  });
});

test('an error reaches every read of the batch as a FerryError', async () => {
  const fd = fs.openSync(path, 'r');
  fs.closeSync(fd);
  const queue = new ReadQueue(fd, countingIo().io);
  const results = await Promise.allSettled(
    Array.from({ length: 4 }, (_, i) => queue.pread(Buffer.alloc(KIB), 0, KIB, i * KIB)),
  );
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok((r as PromiseRejectedResult).reason instanceof FerryError);
  }
});

/** A readCached over the real file that serves at most `cached` bytes per call (-1 once `cold`), counting calls. */
function cachedReads(o: { cached: number; cold?: (call: number) => boolean; unsupported?: boolean }) {
  const calls: { position: number; buffers: number }[] = [];
  const readCached = (fd: number, buffers: Buffer[], position: number): number => {
    calls.push({ position, buffers: buffers.length });
    if (o.unsupported) return -2;
    if (o.cold?.(calls.length)) return -1;
    let left = o.cached;
    let got = 0;
    for (const b of buffers) {
      const n = fs.readSync(fd, b, 0, Math.min(b.length, left), position + got);
      got += n;
      left -= n;
      if (n < b.length || left === 0) break;
    }
    return got;
  };
  return { calls, readCached };
}

test('cached data is read on this thread: 64 pipelined reads take no pool call, each with its own bytes', async () => {
  await withFd(async (fd) => {
    const { counts, io } = countingIo();
    const { calls, readCached } = cachedReads({ cached: Number.POSITIVE_INFINITY });
    const queue = new ReadQueue(fd, io, true, readCached);
    const buffers = Array.from({ length: 64 }, () => Buffer.alloc(16 * KIB));
    const got = await Promise.all(buffers.map((b, i) => queue.pread(b, 0, 16 * KIB, i * 16 * KIB)));
    assert.deepEqual(got, Array(64).fill(16 * KIB));
    for (const [i, b] of buffers.entries()) {
      assert.ok(b.equals(data.subarray(i * 16 * KIB, (i + 1) * 16 * KIB)), `read ${i}`);
    }
    assert.equal(counts.read + counts.readvBuffers.length, 0, 'no pool read');
    assert.ok(calls.length >= 2, 'the first alone, the rest batched');
    assert.ok(
      calls.every((c) => c.buffers * 16 * KIB <= 1024 * KIB),
      'at most 1 MiB per call on the event loop',
    );
  });
});

test('part of a batch cached: the reads it filled resolve, the rest go back to the queue in order', async () => {
  await withFd(async (fd) => {
    const { counts, io } = countingIo();
    // 40 KiB per call: two and a half 16 KiB reads.
    const { calls, readCached } = cachedReads({ cached: 40 * KIB });
    const queue = new ReadQueue(fd, io, true, readCached);
    const buffers = Array.from({ length: 8 }, () => Buffer.alloc(16 * KIB));
    const got = await Promise.all(buffers.map((b, i) => queue.pread(b, 0, 16 * KIB, i * 16 * KIB)));
    // A read filled in part reports what it got (its caller reads the rest), never 0 in mid-file.
    assert.ok(got.every((n) => n > 0));
    for (const [i, b] of buffers.entries()) {
      assert.ok(
        b.subarray(0, got[i]!).equals(data.subarray(i * 16 * KIB, i * 16 * KIB + got[i]!)),
        `read ${i}`,
      );
    }
    assert.equal(counts.read + counts.readvBuffers.length, 0, 'no pool read');
    const positions = calls.map((c) => c.position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      'in file order',
    );
  });
});

test('nothing cached goes to the pool; a file system that cannot tell stops being asked', async () => {
  await withFd(async (fd) => {
    const cold = countingIo();
    const coldReads = cachedReads({ cached: Number.POSITIVE_INFINITY, cold: () => true });
    const queue = new ReadQueue(fd, cold.io, true, coldReads.readCached);
    const b = Buffer.alloc(64 * KIB);
    assert.equal(await queue.pread(b, 0, 64 * KIB, 0), 64 * KIB);
    assert.ok(b.equals(data.subarray(0, 64 * KIB)));
    assert.equal(cold.counts.read, 1, 'read by the pool');
    assert.equal(await queue.pread(b, 0, 64 * KIB, 64 * KIB), 64 * KIB);
    assert.equal(coldReads.calls.length, 2, 'asked again: the next range may be cached');

    const tmpfs = countingIo();
    const unsupported = cachedReads({ cached: 0, unsupported: true });
    const other = new ReadQueue(fd, tmpfs.io, true, unsupported.readCached);
    for (let i = 0; i < 3; i++) assert.equal(await other.pread(b, 0, 64 * KIB, i * 64 * KIB), 64 * KIB);
    assert.equal(unsupported.calls.length, 1, 'asked once');
    assert.equal(tmpfs.counts.read, 3);
  });
});
