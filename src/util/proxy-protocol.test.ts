import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseProxyHeader, V1_MAX_LENGTH, V2_SIGNATURE } from './proxy-protocol.js';
import { ProxyHeaderError, presentPeer, readProxyHeader } from './proxy-socket.js';

function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = family;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number, extra = Buffer.alloc(0)): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from(dst), ports, extra]);
}

test('v1 TCP4, TCP6 and UNKNOWN lines give the client address and the header length', () => {
  const line = 'PROXY TCP4 192.0.2.7 198.51.100.1 51234 22\r\n';
  const tcp4 = parseProxyHeader(Buffer.from(`${line}SSH-2.0-x\r\n`));
  assert.deepEqual(tcp4, {
    status: 'ok',
    length: line.length,
    version: 1,
    source: { address: '192.0.2.7', port: 51234 },
    destination: { address: '198.51.100.1', port: 22 },
  });
  const tcp6 = parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 ::1 65535 0\r\n'));
  assert.equal(tcp6.status === 'ok' && tcp6.source?.address, '2001:db8::1');
  const unknown = parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff:f...f:ffff 12345\r\nrest'));
  assert.deepEqual(unknown, {
    status: 'ok',
    length: 37,
    version: 1,
    source: undefined,
    destination: undefined,
  });
  assert.equal(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')).status, 'ok');
});

test('v1 lines that break the spec are refused', () => {
  for (const bad of [
    'PROXY TCP4 192.0.2.7 198.51.100.1 51234\r\n', // a field missing
    'PROXY TCP4 192.0.2.7  198.51.100.1 1 2\r\n', // two spaces
    'PROXY TCP4 2001:db8::1 ::1 1 2\r\n', // IPv6 under TCP4
    'PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n', // IPv4 under TCP6
    'PROXY TCP4 192.0.2.7 198.51.100.1 65536 22\r\n', // port out of range
    'PROXY TCP4 192.0.2.7 198.51.100.1 022 22\r\n', // leading zero
    'PROXY TCP4 192.0.2.7 198.51.100.1 -1 22\r\n',
    'PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n',
    'PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n', // LF without CR
    'PROXY TCP4 192.0.2.7\r198.51.100.1 1 2\r\n',
    'PROXY TCP4 192.0.2.\x007 198.51.100.1 1 2\r\n',
    `PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH)}\r\n`, // longer than 107 bytes
    'SSH-2.0-OpenSSH_9.6\r\n', // no header at all
    'proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n',
  ]) {
    assert.equal(parseProxyHeader(Buffer.from(bad, 'latin1')).status, 'invalid', JSON.stringify(bad));
  }
});

test('v2 PROXY over INET and INET6, LOCAL, UNSPEC and TLVs', () => {
  const header = v2(1, 0x11, inet4([192, 0, 2, 7], [10, 0, 0, 1], 40000, 2222));
  const parsed = parseProxyHeader(Buffer.concat([header, Buffer.from('SSH-2.0-')]));
  assert.deepEqual(parsed, {
    status: 'ok',
    length: 28,
    version: 2,
    source: { address: '192.0.2.7', port: 40000 },
    destination: { address: '10.0.0.1', port: 2222 },
  });
  const six = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(six, 0);
  Buffer.from('00000000000000000000ffffc0000207', 'hex').copy(six, 16);
  six.writeUInt16BE(1, 32);
  const parsed6 = parseProxyHeader(v2(1, 0x21, six));
  assert.equal(parsed6.status === 'ok' && parsed6.source?.address, '2001:db8::1');
  assert.equal(parsed6.status === 'ok' && parsed6.destination?.address, '::ffff:c000:207');
  // LOCAL (a health check) and UNSPEC carry no client: the connection's own address stands.
  const local = parseProxyHeader(v2(0, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)));
  assert.deepEqual(local, {
    status: 'ok',
    length: 28,
    version: 2,
    source: undefined,
    destination: undefined,
  });
  assert.equal(parseProxyHeader(v2(1, 0x00, Buffer.alloc(0))).status, 'ok');
  // TLVs after the addresses are skipped by the length.
  const tlv = parseProxyHeader(
    v2(1, 0x11, inet4([192, 0, 2, 9], [10, 0, 0, 1], 1, 2, Buffer.from([1, 0, 2, 104, 50]))),
  );
  assert.equal(tlv.status === 'ok' && tlv.length, 33);
});

test('v2 headers that break the spec are refused', () => {
  const addrs = inet4([192, 0, 2, 7], [10, 0, 0, 1], 1, 2);
  const version1 = v2(1, 0x11, addrs);
  version1[12] = 0x11;
  assert.equal(parseProxyHeader(version1).status, 'invalid');
  assert.equal(parseProxyHeader(v2(2, 0x11, addrs)).status, 'invalid', 'command 2');
  assert.equal(parseProxyHeader(v2(1, 0x41, addrs)).status, 'invalid', 'family 4');
  assert.equal(parseProxyHeader(v2(1, 0x12, addrs)).status, 'invalid', 'datagram');
  assert.equal(parseProxyHeader(v2(1, 0x11, addrs.subarray(0, 11))).status, 'invalid', 'short block');
  assert.equal(parseProxyHeader(v2(1, 0x21, addrs)).status, 'invalid', 'INET6 in 12 bytes');
});

test('every proper prefix of a valid header is incomplete, never ok or invalid', () => {
  const headers = [
    Buffer.from(
      'PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n',
    ),
    v2(1, 0x11, inet4([192, 0, 2, 7], [10, 0, 0, 1], 1, 2, Buffer.alloc(300))),
  ];
  assert.equal(headers[0]!.length, V1_MAX_LENGTH);
  for (const header of headers) {
    assert.equal(parseProxyHeader(header).status, 'ok');
    for (let n = 0; n < header.length; n++)
      assert.equal(parseProxyHeader(header.subarray(0, n)).status, 'incomplete', `prefix ${n}`);
  }
});

test('random bytes and mutated headers never throw, and a verdict never needs more than a bounded prefix', () => {
  const valid = [
    Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 51234 22\r\n'),
    v2(1, 0x11, inet4([192, 0, 2, 7], [10, 0, 0, 1], 1, 2)),
  ];
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc
      .tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(120))
      .map(([h, at, byte, cut]) => {
        const copy = Buffer.from(h);
        copy[at % copy.length] = byte;
        return copy.subarray(0, Math.min(cut, copy.length));
      }),
    fc.string({ maxLength: 200 }).map((s) => Buffer.from(`PROXY ${s}`, 'latin1')),
  );
  fc.assert(
    fc.property(input, (data) => {
      const parsed = parseProxyHeader(data);
      if (parsed.status === 'ok') assert.ok(parsed.length <= data.length);
      // A v1 header is decided within 107 bytes; a v2 one within 16 + its declared length (at most 64 KiB).
      if (parsed.status === 'incomplete' && data[0] === 0x50) assert.ok(data.length < V1_MAX_LENGTH);
      if (parsed.status === 'incomplete' && data[0] === 0x0d && data.length >= 16)
        assert.ok(data.length < 16 + data.readUInt16BE(14));
    }),
    { numRuns: 5000 },
  );
});

/** A connected pair of sockets: what the test writes on `client` arrives on `server`. */
async function socketPair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const port = (listener.address() as { port: number }).port;
  const accepted = once(listener, 'connection');
  const client = connect(port, '127.0.0.1');
  const [server] = (await accepted) as [Socket];
  return {
    client,
    server,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

test('the reader takes the header off the stream, leaves the rest, and the socket reports the client', async () => {
  const pair = await socketPair();
  try {
    pair.client.write('PROXY TCP4 192.0.2.7 198.51.100.1 51234 22\r\nSSH-');
    pair.client.write('2.0-client\r\n');
    const source = await readProxyHeader(pair.server, 5000);
    assert.deepEqual(source, { address: '192.0.2.7', port: 51234 });
    presentPeer(pair.server, source!);
    assert.equal(pair.server.remoteAddress, '192.0.2.7');
    assert.equal(pair.server.remotePort, 51234);
    // The reader left the socket paused with the protocol's bytes intact for the next reader.
    let rest = '';
    pair.server.on('data', (d: Buffer) => {
      rest += d.toString();
    });
    pair.server.resume();
    while (rest.length < 'SSH-2.0-client\r\n'.length) await once(pair.server, 'data');
    assert.equal(rest, 'SSH-2.0-client\r\n');
  } finally {
    pair.close();
  }
});

test('the reader rejects a bad header, a silent close and a peer that never finishes its header', async () => {
  const bad = await socketPair();
  try {
    bad.client.write('SSH-2.0-OpenSSH_9.6\r\n');
    await assert.rejects(readProxyHeader(bad.server, 5000), ProxyHeaderError);
  } finally {
    bad.close();
  }
  const silent = await socketPair();
  try {
    silent.client.end();
    await assert.rejects(readProxyHeader(silent.server, 5000), (err: ProxyHeaderError) => err.silent);
  } finally {
    silent.close();
  }
  const stalled = await socketPair();
  try {
    stalled.client.write('PROXY TCP4 192.0.2.7');
    await assert.rejects(readProxyHeader(stalled.server, 50), /no complete PROXY header within 50 ms/);
  } finally {
    stalled.close();
  }
});
