import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GATHER_BYTES, GatheredWrites } from './gathered-writes.js';

const piece = (n: number, fill: number) => Buffer.alloc(n, fill);

test('16 KiB pieces become writes of GATHER_BYTES, in order, at the right offsets, with one in flight', async () => {
  const writes: { at: number; length: number; first: number; last: number }[] = [];
  let busy = 0;
  let most = 0;
  const sink = new GatheredWrites(async (at, data) => {
    busy++;
    most = Math.max(most, busy);
    await new Promise((r) => setTimeout(r, 2));
    writes.push({ at, length: data.length, first: data[0]!, last: data.at(-1)! });
    busy--;
  }, 1000);
  const total = GATHER_BYTES * 3 + 5000;
  let sent = 0;
  let i = 0;
  while (sent < total) {
    const n = Math.min(16 * 1024, total - sent);
    await sink.push(piece(n, i++ % 256));
    sent += n;
  }
  assert.equal(sink.end, 1000 + total);
  assert.equal(await sink.finish(), 1000 + total);
  assert.deepEqual(
    writes.map((w) => [w.at, w.length]),
    [
      [1000, GATHER_BYTES],
      [1000 + GATHER_BYTES, GATHER_BYTES],
      [1000 + 2 * GATHER_BYTES, GATHER_BYTES],
      [1000 + 3 * GATHER_BYTES, 5000],
    ],
  );
  // Contents keep their order across the gathering: write 2 starts with piece 16 (256 KiB / 16 KiB).
  assert.equal(writes[1]!.first, 16);
  assert.equal(most, 1, 'never two writes at once');
});

test('a failed write rejects the next push or the finish, and nothing after it is written', async () => {
  const ats: number[] = [];
  const sink = new GatheredWrites(async (at) => {
    ats.push(at);
    if (at === 0) throw new Error('ENOSPC');
  }, 0);
  await sink.push(piece(GATHER_BYTES, 1));
  await assert.rejects(sink.push(piece(GATHER_BYTES, 2)), /ENOSPC/);
  assert.deepEqual(ats, [0]);
});

test('a short upload is written once, at finish', async () => {
  const ats: [number, number][] = [];
  const sink = new GatheredWrites(async (at, data) => {
    ats.push([at, data.length]);
  }, 7);
  await sink.push(piece(10, 1));
  await sink.push(piece(20, 2));
  assert.deepEqual(ats, []);
  assert.equal(await sink.finish(), 37);
  assert.deepEqual(ats, [[7, 30]]);
});
