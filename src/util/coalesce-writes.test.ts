// The writes of one turn leave a socket together (one writev), in order, and nothing waits past the turn.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { coalesceWrites } from './coalesce-writes.js';

/** A loopback connection: the client socket, and everything the server side received once it closes. */
async function pair(): Promise<{ socket: Socket; received: Promise<Buffer> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const [peer] = await accepted;
  const chunks: Buffer[] = [];
  peer.on('data', (chunk: Buffer) => chunks.push(chunk));
  const received = once(peer, 'end').then(() => {
    peer.end();
    server.close();
    return Buffer.concat(chunks);
  });
  return { socket, received };
}

/** Counts the socket's calls into its handle: one `_write` per lone write, one `_writev` per gathered batch. */
function countCalls(socket: Socket): { write: number; writev: number; buffersPerWritev: number[] } {
  const calls = { write: 0, writev: 0, buffersPerWritev: [] as number[] };
  const write = socket._write.bind(socket);
  const writev = socket._writev!.bind(socket);
  socket._write = (...args) => {
    calls.write++;
    return write(...args);
  };
  socket._writev = (chunks, done) => {
    calls.writev++;
    calls.buffersPerWritev.push(chunks.length);
    return writev(chunks, done);
  };
  return calls;
}

const packets = (turn: number) => Array.from({ length: 8 }, (_, i) => Buffer.alloc(32 * 1024, turn * 8 + i));

describe('coalesceWrites', () => {
  it('sends the packets written in one turn as one writev, in order', async () => {
    const { socket, received } = await pair();
    coalesceWrites(socket);
    const calls = countCalls(socket);
    for (const p of packets(0)) socket.write(p);
    assert.equal(calls.write + calls.writev, 0, 'held until the turn ends');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, { write: 0, writev: 1, buffersPerWritev: [8] });
    // A later turn's writes leave at the end of that turn too.
    for (const p of packets(1)) socket.write(p);
    socket.end();
    assert.ok((await received).equals(Buffer.concat([...packets(0), ...packets(1)])));
    assert.equal(calls.writev, 2);
  });

  it('is what makes the difference: without it each packet is a write of its own', async () => {
    const { socket, received } = await pair();
    const calls = countCalls(socket);
    for (const p of packets(0)) socket.write(p);
    await new Promise((resolve) => setImmediate(resolve));
    socket.end();
    await received;
    // The first goes out at once; what queues behind it while the kernel takes it may go as a writev.
    assert.ok(calls.write >= 1 && calls.write + calls.writev > 2, JSON.stringify(calls));
  });
});
