// The pull reader and backpressured writer over a PassThrough pair (the transport, not a stand-in for core).
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { ChannelReader, ConnectionLostError, writeToChannel } from './channel-io.js';

function pair(highWaterMark = 16 * 1024): { server: Duplex; clientIn: PassThrough; clientOut: PassThrough } {
  const clientIn = new PassThrough({ highWaterMark }); // client → server
  const clientOut = new PassThrough({ highWaterMark }); // server → client
  const server = Duplex.from({ readable: clientIn, writable: clientOut });
  return { server, clientIn, clientOut };
}

describe('ChannelReader', () => {
  it('reads lines, bytes and bounded chunks across arbitrary chunk boundaries', async () => {
    const { server, clientIn } = pair();
    const reader = new ChannelReader(server);
    clientIn.write('C0644 5 a');
    // Chained, not two timers: a 5 ms timer can fire before an immediate when the loop is slow to turn (it did on
    // Node 24), and then the last chunk would be sent before the middle one.
    setImmediate(() => {
      clientIn.write('.txt\nhel');
      setTimeout(() => clientIn.end('lo\0'), 5);
    });
    assert.equal(await reader.readLine(100, () => new Error('long')), 'C0644 5 a.txt');
    assert.deepEqual(await reader.readUpTo(2), Buffer.from('he'));
    assert.deepEqual(await reader.readUpTo(10), Buffer.from('l'));
    assert.deepEqual(await reader.readUpTo(10), Buffer.from('lo\0'));
    assert.equal(await reader.readByte(), null);
  });

  it('bounds a line that never ends', async () => {
    const { server, clientIn } = pair();
    const reader = new ChannelReader(server);
    clientIn.write(Buffer.alloc(5000, 0x41));
    await assert.rejects(
      reader.readLine(2048, () => new Error('too long')),
      /too long/,
    );
  });

  it('reports EOF in the middle of a line as a lost connection', async () => {
    const { server, clientIn } = pair();
    const reader = new ChannelReader(server);
    clientIn.end('C0644');
    await assert.rejects(
      reader.readLine(100, () => new Error('long')),
      ConnectionLostError,
    );
  });

  it('leaves unread data in the stream so the sender is held back', async () => {
    const { server, clientIn } = pair(1024);
    const reader = new ChannelReader(server);
    let accepted = 0;
    while (clientIn.write(Buffer.alloc(512))) accepted += 512;
    assert.ok(accepted < 64 * 1024, 'the writer saw backpressure');
    assert.equal((await reader.readUpTo(100))?.length, 100);
  });
});

describe('writeToChannel', () => {
  it('waits for drain and then continues', async () => {
    const { server, clientOut } = pair(1024);
    const pending = writeToChannel(server, Buffer.alloc(64 * 1024));
    let done = false;
    void pending.then(() => {
      done = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false);
    clientOut.resume();
    await pending;
  });

  it('rejects once the channel is gone', async () => {
    const { server } = pair();
    // In serveScp the reader is always attached; it is what keeps a channel error from crashing the process.
    new ChannelReader(server);
    server.destroy();
    await assert.rejects(writeToChannel(server, 'x'), ConnectionLostError);
  });
});
