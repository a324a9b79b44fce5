// The upload hash against node:crypto: the same digest on either side of the hand-over to its thread, with
// chunks larger than the thread's ring; more hashes than threads; a released hash leaves no thread behind; a
// finished hash's ring is reused by the next one.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { aeadWith } from './aead-addon.js';
import { namedThreads } from './named-threads-fixture.js';
import { uploadHashLimits, uploadSha256 } from './upload-sha256.js';

assert.ok(uploadHashLimits, 'native/aead is built with its hashing thread');
const { syncBytes: SYNC, maxThreads: MAX_THREADS } = uploadHashLimits;
const MIB = 1024 * 1024;

const expected = (data: Buffer) => createHash('sha256').update(data).digest('hex');
// Hashing threads only: other threads of the process may start or end meanwhile.
const threads = () => namedThreads('ferry-sha256');

/** The thread count once it has not changed for 200 ms (threads of earlier tests finish leaving). */
async function settledThreads(): Promise<number> {
  let last = threads();
  for (let still = 0; still < 10; ) {
    await new Promise((r) => setTimeout(r, 20));
    const now = threads();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

async function hashInChunks(data: Buffer, step: (i: number) => number): Promise<string> {
  const hash = uploadSha256();
  for (let at = 0, i = 0; at < data.length; i++) {
    const chunk = data.subarray(at, at + step(i));
    const wait = hash.update(chunk);
    if (wait) await wait;
    at += chunk.length;
  }
  return hash.digest();
}

test('gives node:crypto’s digest below, at and past the bytes hashed before a thread takes over', async () => {
  for (const size of [0, 1, SYNC - 1, SYNC, SYNC + 1, SYNC + 32 * 1024, 10 * MIB + 3]) {
    const data = randomBytes(size);
    assert.equal(await hashInChunks(data, () => 32 * 1024), expected(data), `size ${size} in 32 KiB writes`);
    // Chunks of every size up to 5 MiB, bigger than the thread's ring: the update waits for room.
    assert.equal(
      await hashInChunks(data, (i) => ((i * 7919 + 1) % (5 * MIB)) + 1),
      expected(data),
      `size ${size}`,
    );
  }
});

test('more large uploads at once than threads: every digest is right (the rest hash on this thread)', async () => {
  const uploads = Array.from({ length: MAX_THREADS + 4 }, () => randomBytes(SYNC + 3 * MIB));
  const digests = await Promise.all(uploads.map((data) => hashInChunks(data, () => 256 * 1024)));
  assert.deepEqual(digests, uploads.map(expected));
});

test('a released hash, never asked for its digest, stops its thread', async () => {
  const before = await settledThreads();
  const hashes = Array.from({ length: 4 }, () => uploadSha256());
  for (const hash of hashes) await hash.update(randomBytes(SYNC + MIB));
  assert.ok(threads() >= before + 4, 'each hash past its first megabyte has a thread');
  for (const hash of hashes) hash.release();
  const until = Date.now() + 5000;
  while (threads() > before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.equal(threads(), before, 'the threads have ended');
});

test('a finished hash gives its ring back without waiting for a GC, and the next upload takes that ring', async () => {
  const rings = aeadWith<{ ringPoolTrim(): number; ringPoolBytes(): number }>('ringPoolBytes');
  assert.ok(rings, 'native/aead is built with its ring pool');
  await settledThreads();
  rings.ringPoolTrim();
  assert.equal(rings.ringPoolBytes(), 0);
  const pooled = async () => {
    const until = Date.now() + 5000;
    while (rings.ringPoolBytes() === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return rings.ringPoolBytes();
  };
  const first = uploadSha256();
  const a = randomBytes(SYNC + 3 * MIB);
  for (let at = 0; at < a.length; at += 256 * 1024) await first.update(a.subarray(at, at + 256 * 1024));
  assert.equal(await first.digest(), expected(a));
  // `first` is still referenced here: its ring must come back when its thread ends, not when it is collected.
  const ringBytes = await pooled();
  assert.ok(ringBytes >= MIB, `the finished thread's ring is kept for reuse (${ringBytes} bytes)`);
  first.release();

  const second = uploadSha256();
  const b = randomBytes(SYNC + 3 * MIB);
  await second.update(b.subarray(0, SYNC + 1));
  assert.equal(
    rings.ringPoolBytes(),
    0,
    'the second upload’s thread took the kept ring instead of a fresh one',
  );
  for (let at = SYNC + 1; at < b.length; at += 100_000) await second.update(b.subarray(at, at + 100_000));
  assert.equal(await second.digest(), expected(b), 'a reused ring gives the right digest');
  assert.equal(await pooled(), ringBytes, 'one ring between the two uploads');
  assert.equal(rings.ringPoolTrim(), ringBytes, 'trimming frees the kept ring');
  assert.equal(rings.ringPoolBytes(), 0);
});
