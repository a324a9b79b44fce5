// A session's READ buffers are reused, bounded, and dropped when the session goes idle.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReadBufferPool } from './read-buffers.js';

describe('ReadBufferPool', () => {
  it('hands a returned buffer out again instead of allocating', () => {
    const pool = new ReadBufferPool(1024, 4);
    const first = pool.take();
    assert.equal(first.length, 1024);
    pool.give(first);
    assert.equal(pool.take(), first);
    pool.clear();
  });

  it('keeps at most maxFree buffers and ignores foreign sizes', () => {
    const pool = new ReadBufferPool(1024, 2);
    const taken = [pool.take(), pool.take(), pool.take()];
    for (const b of taken) pool.give(b);
    pool.give(Buffer.alloc(10));
    assert.equal(pool.freeCount, 2);
    pool.clear();
    assert.equal(pool.freeCount, 0);
  });

  it('drops its free buffers after two idle seconds', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const pool = new ReadBufferPool(1024, 4);
    pool.give(pool.take());
    t.mock.timers.tick(1999);
    assert.equal(pool.freeCount, 1);
    t.mock.timers.tick(1);
    assert.equal(pool.freeCount, 0);
  });
});
