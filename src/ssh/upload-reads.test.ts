// An uploading connection's read buffer is drawn from its buffered-bytes account (upload-reads.ts): taken only
// with room to spare, never twice, given back when adoption fails, and tried again at a later WRITE once room
// is back. Real TCP sockets and the real budget; ssh2's protocol object is not needed to adopt.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'ssh2';
import { ResourceBudget } from '../core/budgets.js';
import { REUSED_READ_BYTES } from '../util/socket-reads.js';
import { uploadReads } from './upload-reads.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const client = { _protocol: {} } as unknown as Connection;

describe('upload reads: the read buffer counts against the connection', () => {
  let server: Server;
  const open: Socket[] = [];

  before(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async () => {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  /** An accepted socket, flowing (a 'data' listener, as ssh2 has), and the other end. */
  async function pair(): Promise<{ accepted: Socket; peer: Socket; received: Buffer[] }> {
    const accepting = once(server, 'connection');
    const port = (server.address() as { port: number }).port;
    const peer = connect(port, '127.0.0.1');
    const [accepted] = (await accepting) as [Socket];
    const received: Buffer[] = [];
    accepted.on('data', (chunk: Buffer) => received.push(Buffer.from(chunk)));
    open.push(peer, accepted);
    await once(peer, 'connect');
    return { accepted, peer, received };
  }

  it('takes 256 KiB once, from the first large WRITE on, and the data still arrives whole', async () => {
    const budget = new ResourceBudget('buffered reply bytes', { perConnection: 16 * MIB, perUser: 64 * MIB });
    const account = budget.open('alice');
    const { accepted, peer, received } = await pair();
    const reads = uploadReads(client, accepted, account);
    assert.equal(reads.stats, undefined, 'nothing adopted before an upload');
    assert.equal(account.used, 0);
    reads.bulk();
    reads.bulk();
    assert.notEqual(reads.stats, undefined, 'adopted at the first large WRITE');
    assert.equal(account.used, REUSED_READ_BYTES, 'the buffer counted once');
    const sent = Buffer.alloc(3 * MIB, 7);
    peer.write(sent);
    while (received.reduce((n, b) => n + b.length, 0) < sent.length) await once(accepted, 'data');
    assert.ok(Buffer.concat(received).equals(sent));
    assert.ok(reads.stats!.reads > 0, 'the adopted socket read through the reused path');
    account.close();
    assert.equal(budget.usedBy('alice'), 0, 'given back with the connection');
  });

  it('without 1 MiB of room the socket keeps Node reads, and a later WRITE adopts once room is back', async () => {
    const budget = new ResourceBudget('buffered reply bytes', { perConnection: 16 * MIB, perUser: 2 * MIB });
    const other = budget.open('bob');
    const account = budget.open('bob');
    // Another connection of the same user holds all but 512 KiB of the user's limit.
    assert.ok(other.tryTake(2 * MIB - 512 * KIB));
    const { accepted } = await pair();
    const reads = uploadReads(client, accepted, account);
    let woken = 0;
    account.onRoom(() => woken++);
    reads.bulk();
    assert.equal(reads.stats, undefined, 'not adopted: no room for the buffer and the sessions beside it');
    assert.equal(account.used, 0, 'nothing taken');
    other.give(MIB);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(woken, 0, 'the refusal signed nothing up for wake-ups');
    reads.bulk();
    assert.notEqual(reads.stats, undefined, 'adopted at a later WRITE');
    assert.equal(account.used, REUSED_READ_BYTES);
    assert.equal(budget.usedBy('bob'), 2 * MIB - 512 * KIB - MIB + REUSED_READ_BYTES);
  });

  it('gives the bytes back when the socket cannot be adopted, and tries again later', async () => {
    const budget = new ResourceBudget('buffered reply bytes', { perConnection: 16 * MIB, perUser: 64 * MIB });
    const account = budget.open('carol');
    const { accepted } = await pair();
    const reads = uploadReads(client, accepted, account);
    accepted.pause();
    reads.bulk();
    assert.equal(reads.stats, undefined, 'a paused socket is not adopted');
    assert.equal(account.used, 0, 'and holds nothing');
    accepted.resume();
    reads.bulk();
    assert.notEqual(reads.stats, undefined, 'adopted once it flows again');
    assert.equal(account.used, REUSED_READ_BYTES);
  });
});
