// The window reserve (our ssh2 patch, Channel.reserveWindow, as src/ssh/window-reserve.ts sets it): how much of a
// client's window a channel keeps in flight, and that a client which stops returning window still gets all of it.
// A real ssh2 client and server over loopback TCP.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type ClientChannel, type ServerChannel } from 'ssh2';
import {
  MAX_ROUND_TRIP_MS,
  RESERVE_STALL_MS,
  reserveFileChannelWindow,
  windowReserve,
} from './window-reserve.js';

const MIB = 1024 * 1024;
const PACKET = 32 * 1024;
const SENT = 8 * MIB;

describe('windowReserve', () => {
  test('half the window less four packets is held back; nothing of a window under 1 MiB', () => {
    assert.equal(windowReserve(2 * MIB, PACKET), MIB - 4 * PACKET);
    assert.equal(windowReserve(16 * MIB, PACKET), 8 * MIB - 4 * PACKET);
    assert.equal(windowReserve(MIB - 1, PACKET), 0);
    assert.equal(windowReserve(MIB, 256 * 1024), 0, 'never a negative reserve');
  });
});

type Mode = 'none' | 'held' | 'patient' | 'ferry' | 'far';

interface Served {
  /** The least of the client's window the server had left unspent, over the transfer. */
  minWindow: number;
  /** Times data waited on the reserve past its limit, and whether the channel then gave it up for good. */
  waits: number;
  released: boolean;
}

/** The server end of ssh2's channel, as far as the test watches it. */
interface WatchedChannel {
  outgoing: { window: number; packetSize: number };
  reserveWindow(bytes: number, stallMs: number): void;
}

describe('a file channel with the reserve, ssh2 client and server', () => {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
  let server: ssh2.Server;
  let port = 0;
  let mode: Mode = 'ferry';
  const served: Served[] = [];

  /** Records the lowest value ssh2 leaves in the channel's `outgoing.window`. */
  function watchWindow(channel: ServerChannel, entry: Served): void {
    const outgoing = (channel as unknown as WatchedChannel).outgoing;
    let window = outgoing.window;
    entry.minWindow = window;
    Object.defineProperty(outgoing, 'window', {
      get: () => window,
      set: (value: number) => {
        window = value;
        if (!entry.released) entry.minWindow = Math.min(entry.minWindow, value);
      },
    });
  }

  before(async () => {
    server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
      client.on('error', () => {});
      client.on('authentication', (ctx) => ctx.accept());
      client.on('ready', () =>
        client.on('session', (acceptSession) =>
          acceptSession().on('exec', (accept) => {
            const channel = accept();
            const entry: Served = { minWindow: 0, waits: 0, released: false };
            served.push(entry);
            watchWindow(channel, entry);
            const onReleased = () => {
              entry.released = true;
            };
            const watched = channel as unknown as WatchedChannel;
            // 'held': the patch alone, with a stall limit no test machine reaches.
            if (mode === 'held')
              watched.reserveWindow(
                windowReserve(watched.outgoing.window, watched.outgoing.packetSize),
                60_000,
              );
            // 'patient': the patch alone with a stall limit of 50 ms, so that a loaded test machine's late timers
            // are not the waits a test counts.
            if (mode === 'patient')
              watched.reserveWindow(windowReserve(watched.outgoing.window, watched.outgoing.packetSize), 50);
            if (mode === 'ferry') reserveFileChannelWindow(channel, 0, onReleased);
            if (mode === 'far') reserveFileChannelWindow(channel, MAX_ROUND_TRIP_MS + 1, onReleased);
            channel.once('window-reserve-released', onReleased);
            channel.on('window-reserve-wait', () => entry.waits++);
            const chunk = Buffer.alloc(64 * 1024, 0x5a);
            for (let sent = 0; sent < SENT; sent += chunk.length) channel.write(chunk);
            channel.end();
          }),
        ),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(() => server.close());

  async function openChannel(): Promise<{ stream: ClientChannel; client: ssh2.Client }> {
    const client = new ssh2.Client();
    client.on('error', () => {});
    client.connect({ host: '127.0.0.1', port, username: 'u', password: 'p' });
    await once(client, 'ready');
    const stream = await new Promise<ClientChannel>((resolve, reject) =>
      client.exec('send', (err, s) => (err ? reject(err) : resolve(s))),
    );
    return { stream, client };
  }

  /**
   * Reads everything. `late(nth)`: how long the client's nth window adjust waits before it is sent (2 ms: as
   * OpenSSH's client does once it has written to sftp; a server sending all the window allows has it spent by
   * then). `whenSpent`: the client returns window only once the server has spent all it had.
   */
  async function readAll(o: { late?: (nth: number) => number; whenSpent?: boolean } = {}): Promise<number> {
    const { stream, client } = await openChannel();
    const protocol = (
      client as unknown as { _protocol: { channelWindowAdjust(id: number, n: number): void } }
    )._protocol;
    const adjust = protocol.channelWindowAdjust.bind(protocol);
    const late = o.late ?? (() => 2);
    let adjusts = 0;
    const send = (id: number, n: number) => void setTimeout(() => adjust(id, n), late(adjusts++));
    // The window the server has left, as the client counts it, and what the client holds back meanwhile.
    let granted = 2 * MIB;
    let held = 0;
    let channelId = 0;
    protocol.channelWindowAdjust = (id, n) => {
      if (!o.whenSpent) return send(id, n);
      channelId = id;
      held += n;
    };
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      granted -= chunk.length;
      if (o.whenSpent && granted === 0 && held > 0) {
        granted = held;
        send(channelId, held);
        held = 0;
      }
    });
    await once(stream, 'close');
    client.end();
    return bytes;
  }

  test('at most half the window and four packets are in flight, and every byte arrives', async () => {
    mode = 'none';
    assert.equal(await readAll(), SENT);
    const plain = served.at(-1)!;
    mode = 'held';
    assert.equal(await readAll(), SENT);
    const held = served.at(-1)!;
    const reserve = windowReserve(2 * MIB, PACKET);
    assert.ok(plain.minWindow < reserve / 2, `without it the window is spent (${plain.minWindow} left)`);
    assert.ok(held.minWindow >= reserve, `with it ${held.minWindow} of the window stays unspent`);
    assert.equal(held.released, false);
    // A client whose open took longer than a near one's round trip gets the whole window, as without it.
    mode = 'far';
    assert.equal(await readAll(), SENT);
    assert.ok(served.at(-1)!.minWindow < reserve / 2, 'a far client: no reserve');
  });

  test('a client late once, then prompt, keeps its reserve: data waits once, until it has caught up', async () => {
    mode = 'patient';
    assert.equal(await readAll({ late: (nth) => (nth === 0 ? 250 : 2) }), SENT);
    const entry = served.at(-1)!;
    assert.equal(entry.waits, 1, 'one wait: the window spent meanwhile is not another');
    assert.equal(entry.released, false);
  });

  test('a client that returns window only once it is spent waits on the reserve at most three times', async () => {
    mode = 'ferry';
    assert.equal(await readAll({ whenSpent: true }), SENT);
    const entry = served.at(-1)!;
    assert.ok(entry.waits >= 1 && entry.waits <= 3, `${entry.waits} waits for ${SENT / MIB} MiB`);
  });

  test('a client that stops returning window gets the whole of it', async () => {
    /** Reads nothing: what arrives is what the client's buffer and the window it returned allow. */
    const unread = async (): Promise<number> => {
      const { stream, client } = await openChannel();
      let last = -1;
      while (stream.readableLength !== last) {
        last = stream.readableLength;
        await sleep(RESERVE_STALL_MS * 10);
      }
      client.end();
      return last;
    };
    mode = 'ferry';
    const withReserve = await unread();
    mode = 'none';
    assert.equal(await unread(), withReserve, 'the same bytes arrive as without it: no window left unused');
  });
});
