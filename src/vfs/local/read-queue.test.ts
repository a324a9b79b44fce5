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
