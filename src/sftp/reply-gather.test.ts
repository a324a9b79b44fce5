// Small replies of one turn leave as one channel write, in order, each caller told once the channel has them.
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { ReplyGather, SMALL_REPLY_BYTES } from './reply-gather.js';

function recordingChannel() {
  const writes: Buffer[] = [];
  const channel = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push(chunk);
      done();
    },
  });
  return { channel: channel as unknown as Duplex, writes };
}

const packet = (byte: number, length: number) => Buffer.alloc(length, byte);

describe('reply gather', () => {
  it('sends the small replies of one turn as one write, in order, and calls back each', async () => {
    const { channel, writes } = recordingChannel();
    const gather = new ReplyGather(channel, () => false);
    const flushed: number[] = [];
    for (let i = 1; i <= 5; i++) gather.send(packet(i, 30), () => flushed.push(i));
    assert.equal(writes.length, 0, 'nothing before the end of the turn');
    await turn();
    await turn();
    assert.equal(writes.length, 1);
    assert.ok(writes[0]!.equals(Buffer.concat([1, 2, 3, 4, 5].map((i) => packet(i, 30)))));
    assert.deepEqual(flushed, [1, 2, 3, 4, 5]);
  });

  it('sends a large reply at once, after the small ones before it', async () => {
    const { channel, writes } = recordingChannel();
    const gather = new ReplyGather(channel, () => false);
    gather.send(packet(1, 30));
    gather.send(packet(2, SMALL_REPLY_BYTES + 1));
    gather.send(packet(3, 30));
    assert.deepEqual(
      writes.map((w) => [w[0], w.length]),
      [
        [1, 30],
        [2, SMALL_REPLY_BYTES + 1],
      ],
    );
    await turn();
    assert.deepEqual(writes.at(-1), packet(3, 30));
  });

  it('goes out without waiting once about a packet is gathered', () => {
    const { channel, writes } = recordingChannel();
    const gather = new ReplyGather(channel, () => false);
    for (let i = 0; i < 40; i++) gather.send(packet(i, SMALL_REPLY_BYTES));
    assert.ok(writes.length >= 1, 'flushed within the turn');
    assert.ok(writes.every((w) => w.length <= 32 * 1024));
  });

  it('drops what is gathered once the channel is gone, telling every caller', async () => {
    const { channel, writes } = recordingChannel();
    let closed = false;
    const gather = new ReplyGather(channel, () => closed);
    const flushed: number[] = [];
    gather.send(packet(1, 30), () => flushed.push(1));
    gather.send(packet(2, 30), () => flushed.push(2));
    closed = true;
    await turn();
    assert.equal(writes.length, 0);
    assert.deepEqual(flushed, [1, 2]);
  });
});
