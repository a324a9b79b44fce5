// A session's READ buffers are reused, sized to its READs, bounded by its byte budget, and dropped when idle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadBufferPool } from './read-buffers.js';

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

  it('a READ of another length starts a new set: the old buffers are not handed out for it', () => {
    const pool = new ReadBufferPool(HEADER, 1024 * 1024);
    const small = pool.take(100);
    pool.give(small);
    const large = pool.take(1000);
    assert.equal(large.length, HEADER + 1000);
    assert.notEqual(large, small);
    pool.give(small);
    assert.equal(pool.freeCount, 0, 'a buffer of the old size is not kept');
    pool.give(large);
    assert.equal(pool.freeCount, 1);
    pool.clear();
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
