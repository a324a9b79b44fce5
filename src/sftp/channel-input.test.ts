// The SFTP session's input through ssh2's data sink (channel-input.ts): every payload counted for the connection's
// socket reads, every large WRITE announced (small ones not), the client's window held while the session is full and let go after,
// and a bad packet ending the session without reaching ssh2.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectStatus, open, RW_CREATE, start } from './serve-sftp-fixture.js';
import { SinkTestChannel } from './sink-channel-fixture.js';
import { FX, FXP } from './wire/constants.js';
import { MIN_STAGED_WRITE } from './write-buffers.js';

function pattern(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

function startWithSink(options: Parameters<typeof start>[0] = {}) {
  const tap = { sunk: 0, bulk: 0 };
  let channel: SinkTestChannel | undefined;
  const started = start(
    {
      ...options,
      sinkTap: {
        sunk: () => {
          tap.sunk++;
        },
        bulk: () => {
          tap.bulk++;
        },
      },
    },
    (onData) => {
      channel = new SinkTestChannel(onData);
      return channel;
    },
  );
  return { ...started, tap, channel: channel! };
}

describe('SFTP input through the data sink', () => {
  it('counts every payload, announces each large WRITE, and lands large and small WRITEs byte-exact', async () => {
    const { client, session, done, tap, channel } = startWithSink();
    client.init();
    const handle = await open(client, '/mixed', RW_CREATE);
    const sizes = [40_000, 100, 65_536, 16 * 1024, 16 * 1024 - 1, 3, 200_000];
    let offset = 0;
    const writes = sizes.map((size, n) => {
      const at = offset;
      offset += size;
      return client.request(FXP.WRITE, (w) => w.string(handle).uint64(at).string(pattern(size, n)));
    });
    for (const reply of await Promise.all(writes)) expectStatus(reply, FX.OK);
    assert.ok(session.files.get('/mixed')?.equals(Buffer.concat(sizes.map((s, n) => pattern(s, n)))));
    assert.equal(channel.ferryDataSink === null, false, 'the session took its data through the sink');
    assert.equal(tap.sunk, channel.calls, 'every payload the sink took was counted');
    assert.ok(tap.sunk >= 10, `${tap.sunk} payloads`);
    const large = sizes.filter((size) => size >= MIN_STAGED_WRITE).length;
    assert.equal(large, 4);
    assert.equal(tap.bulk, large, 'each large WRITE announced the upload; the small ones did not');
    client.end();
    await done;
  });

  it('holds the window while the session is full and lets it go after: a slow file still gets every WRITE', async () => {
    // 1 MiB of budget, WRITEs of 64 KiB that take 3 ms each: the session fills and must stop the client.
    const { client, session, done, channel } = startWithSink({ maxBufferedBytes: 1024 * 1024 });
    session.writeDelayMs = 3;
    client.init();
    const handle = await open(client, '/slow', RW_CREATE);
    const size = 64 * 1024;
    const count = 48;
    const writes = Array.from({ length: count }, (_, n) =>
      client.request(FXP.WRITE, (w) =>
        w
          .string(handle)
          .uint64(n * size)
          .string(pattern(size, n)),
      ),
    );
    for (const reply of await Promise.all(writes)) expectStatus(reply, FX.OK);
    const expected = Buffer.concat(Array.from({ length: count }, (_, n) => pattern(size, n)));
    assert.ok(session.files.get('/slow')?.equals(expected), 'byte-exact');
    assert.ok(channel.holds > 0, 'the sink asked the client to wait');
    assert.equal(channel.resumes, channel.holds, 'and let it go each time');
    client.end();
    await done;
  });

  it('a packet of a bad length ends the session; the sink does not throw into ssh2', async () => {
    const { client, done, channel } = startWithSink();
    client.init();
    await open(client, '/x', RW_CREATE);
    assert.doesNotThrow(() => client.sendRaw(Buffer.from([0, 0, 0, 0, 1, 2, 3])));
    await done;
    assert.ok(channel.calls > 0);
  });
});
