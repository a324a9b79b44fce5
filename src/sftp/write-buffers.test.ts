// A large WRITE's data reaches the file as a copy in a reused buffer, never reused while its write is pending.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectStatus, open, RW_CREATE, start as startStream } from './serve-sftp-fixture.js';
import type { SftpServeOptions } from './server.js';
import { SinkTestChannel } from './sink-channel-fixture.js';
import { FX, FXP } from './wire/constants.js';
import { MIN_STAGED_WRITE, WriteBufferPool } from './write-buffers.js';

/** Fails with the first differing offset (a deepEqual diff of megabytes takes minutes). */
function assertSameBytes(actual: Buffer | undefined, expected: Buffer): void {
  assert.ok(actual, 'no file');
  assert.equal(actual.length, expected.length, 'length');
  if (actual.equals(expected)) return;
  let at = 0;
  while (actual[at] === expected[at]) at++;
  assert.fail(`bytes differ from offset ${at}`);
}

/** Bytes that differ with `seed` and position: a WRITE that got another's bytes changes the file. */
function pattern(length: number, seed: number): Buffer {
  const data = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) data[i] = (i * 7 + seed * 131 + (i >>> 9)) & 0xff;
  return data;
}

describe('WriteBufferPool', () => {
  it('copies a large WRITE out of its chunks, in order, and hands the buffer out again once given back', () => {
    const pool = new WriteBufferPool(4 * 1024 * 1024);
    const data = pattern(32 * 1024, 1);
    const chunks = [data.subarray(0, 1000), data.subarray(1000, 20_000), data.subarray(20_000)];
    const staged = pool.stage(chunks, data.length);
    assert.ok(staged.buffer, 'copied');
    assert.ok(Buffer.isBuffer(staged.data));
    assertSameBytes(staged.data as Buffer, data);
    assert.notEqual((staged.data as Buffer).buffer, data.buffer, 'not the memory the chunks are in');
    pool.give(staged.buffer);
    const again = pool.stage([pattern(32 * 1024, 2)], 32 * 1024);
    assert.equal(again.buffer, staged.buffer, 'the same buffer, reused');
    assertSameBytes(again.data as Buffer, pattern(32 * 1024, 2));
    pool.clear();
  });

  it('leaves a small WRITE as the slices it arrived in', () => {
    const pool = new WriteBufferPool(4 * 1024 * 1024);
    const chunks = [pattern(MIN_STAGED_WRITE - 1, 3)];
    const staged = pool.stage(chunks, MIN_STAGED_WRITE - 1);
    assert.equal(staged.buffer, undefined);
    assert.equal(staged.data, chunks);
    pool.give(staged.buffer);
  });
});

/** The session's input through ssh2's stream, or through the data sink with the copying framer (channel-input.ts). */
const MODES = {
  stream: startStream,
  sink: (options: Partial<SftpServeOptions> = {}) =>
    startStream({ ...options, sinkTap: { sunk() {}, bulk() {} } }, (d) => new SinkTestChannel(d)),
};

for (const [mode, start] of Object.entries(MODES))
  describe(`sftp WRITEs through the pooled buffers (input: ${mode})`, () => {
    it('hands one WRITE after another the same buffer, and a small WRITE its own memory', async () => {
      const { client, session, done } = start();
      const seen: ArrayBufferLike[] = [];
      session.onWrite = (_offset, data) => {
        assert.equal(data.length, 1);
        seen.push(data[0]!.buffer);
      };
      client.init();
      const handle = await open(client, '/seq', RW_CREATE);
      const size = 32 * 1024;
      for (let i = 0; i < 4; i++) {
        const data = pattern(size, i);
        expectStatus(
          await client.request(FXP.WRITE, (w) =>
            w
              .string(handle)
              .uint64(i * size)
              .string(data),
          ),
          FX.OK,
        );
      }
      expectStatus(
        await client.request(FXP.WRITE, (w) =>
          w
            .string(handle)
            .uint64(4 * size)
            .string(pattern(100, 9)),
        ),
        FX.OK,
      );
      assert.equal(new Set(seen.slice(0, 4)).size, 1, 'the four large WRITEs used one buffer');
      assert.notEqual(seen[4], seen[0], 'the small WRITE was not copied into it');
      const expected = Buffer.concat([0, 1, 2, 3].map((i) => pattern(size, i)).concat(pattern(100, 9)));
      assertSameBytes(session.files.get('/seq'), expected);
      client.end();
      await done;
    });

    it('never reuses a buffer while its write is pending: pipelined WRITEs finishing out of order land byte-exact', async () => {
      const { client, session, done } = start();
      // Writes take 2, 4 or 6 ms by their offset, so they finish out of order and overlap.
      session.writeDelayMs = 2;
      const buffers = new Set<ArrayBufferLike>();
      session.onWrite = (_offset, data) => buffers.add(data[0]!.buffer);
      client.init();
      const handle = await open(client, '/pipelined', RW_CREATE);
      const size = 40_000;
      const rounds = 3;
      const perRound = 24;
      for (let round = 0; round < rounds; round++) {
        const writes = [];
        for (let i = 0; i < perRound; i++) {
          const n = round * perRound + i;
          writes.push(
            client.request(FXP.WRITE, (w) =>
              w
                .string(handle)
                .uint64(n * size)
                .string(pattern(size, n)),
            ),
          );
        }
        for (const reply of await Promise.all(writes)) expectStatus(reply, FX.OK);
      }
      const expected = Buffer.concat(Array.from({ length: rounds * perRound }, (_, n) => pattern(size, n)));
      assertSameBytes(session.files.get('/pipelined'), expected);
      assert.ok(
        buffers.size <= perRound,
        `${buffers.size} buffers for ${rounds * perRound} WRITEs: the later rounds reused the first's`,
      );
      client.end();
      await done;
    });
  });
