// A session's READ buffers are reused, sized to its READs, bounded by its byte budget, and dropped when idle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadBufferPool, sizeClassOf } from './read-buffers.js';

const HEADER = 13;

describe('ReadBufferPool', () => {
  it('hands a returned buffer out again instead of allocating', () => {
    const pool = new ReadBufferPool(HEADER, 64 * 1024);
    const first = pool.take(1024);
    assert.equal(first.length, HEADER + 1024);
    pool.give(first);
    assert.equal(pool.take(1024), first);
    pool.clear();
  });

  it('keeps as many buffers as READs of their size fit in the budget, plus one, and ignores foreign sizes', () => {
    const pool = new ReadBufferPool(HEADER, 2048);
    const taken = Array.from({ length: 5 }, () => pool.take(1024));
    for (const b of taken) pool.give(b);
    pool.give(Buffer.alloc(10));
    assert.equal(pool.freeCount, 3);
    pool.clear();
    assert.equal(pool.freeCount, 0);
  });

  it('sizes buffers to the READs: small READs under a budget made for large ones all reuse', () => {
    // 64 READs of 16 KiB in flight under a 4 MiB budget (OpenSSH's `sftp -B 16384`): every one comes back.
    const pool = new ReadBufferPool(HEADER, 4 * 1024 * 1024);
    const inFlight = Array.from({ length: 64 }, () => pool.take(16 * 1024));
    assert.ok(inFlight.every((b) => b.length === HEADER + 16 * 1024));
    for (const b of inFlight) pool.give(b);
    assert.equal(pool.freeCount, 64);
    const again = new Set(Array.from({ length: 64 }, () => pool.take(16 * 1024)));
    assert.ok(
      inFlight.every((b) => again.has(b)),
      'the second round of READs got the first round’s buffers',
    );
  });

  it('a READ of another size class starts a new set: the old buffers are not handed out for it', () => {
    const pool = new ReadBufferPool(HEADER, 1024 * 1024);
    const small = pool.take(100);
    assert.equal(small.length, HEADER + 128, 'sized to the power of two above the length');
    pool.give(small);
    const large = pool.take(1000);
    assert.equal(large.length, HEADER + 1024);
    assert.notEqual(large, small);
    pool.give(small);
    assert.equal(pool.freeCount, 0, 'a buffer of the old size is not kept');
    pool.give(large);
    assert.equal(pool.freeCount, 1);
    pool.clear();
  });

  it('serves OpenSSH small-file downloads from one set: READ 32768, then READ 28672 for what a short read left', () => {
    // get of a 4 KiB file: a READ of 32 KiB returns 4 KiB, the client asks again for the other 28 KiB (EOF).
    const pool = new ReadBufferPool(HEADER, 4 * 1024 * 1024);
    const first = pool.take(32 * 1024);
    pool.give(first);
    for (let file = 0; file < 100; file++) {
      for (const length of [32 * 1024, 28 * 1024]) {
        const buffer = pool.take(length);
        assert.equal(buffer, first, `file ${file}, READ of ${length}: the same buffer, no allocation`);
        assert.ok(buffer.length >= HEADER + length);
        pool.give(buffer);
      }
    }
    pool.clear();
  });

  it('rounds lengths up to powers of two', () => {
    assert.deepEqual([0, 1, 2, 3, 4096, 4097, 28 * 1024, 32 * 1024, 255 * 1024].map(sizeClassOf), [
      1,
      1,
      2,
      4,
      4096,
      8192,
      32 * 1024,
      32 * 1024,
      256 * 1024,
    ]);
  });

  it('drops its free buffers after two idle seconds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const pool = new ReadBufferPool(HEADER, 64 * 1024);
    pool.give(pool.take(1024));
    t.mock.timers.tick(1999);
    assert.equal(pool.freeCount, 1);
    t.mock.timers.tick(1);
    assert.equal(pool.freeCount, 0);
  });
});
