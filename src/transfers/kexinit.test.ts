// The server's KEXINIT read off the wire: whole or in pieces, malformed or hostile, and the one line made from it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientAlgorithmPolicy } from '../ssh-algorithms.js';
import { explainMismatch, findMismatch, KexInitSniffer, type ServerOffer } from './kexinit.js';

const nameList = (names: readonly string[]) => {
  const text = Buffer.from(names.join(','), 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(text.length);
  return Buffer.concat([len, text]);
};

/** A KEXINIT packet as a server sends it in the clear: length, padding length, payload, padding. */
function kexinitPacket(o: ServerOffer, padding = 4): Buffer {
  const payload = Buffer.concat([
    Buffer.from([20]),
    Buffer.alloc(16, 7),
    ...[
      o.kex,
      o.serverHostKey,
      o.cs.cipher,
      o.sc.cipher,
      o.cs.mac,
      o.sc.mac,
      o.cs.compress,
      o.sc.compress,
    ].map(nameList),
    nameList([]),
    nameList([]),
    Buffer.from([0, 0, 0, 0, 0]),
  ]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + padding);
  head[4] = padding;
  return Buffer.concat([head, payload, Buffer.alloc(padding)]);
}

const offer = (over: Partial<ServerOffer> = {}, dir: Partial<ServerOffer['cs']> = {}): ServerOffer => {
  const d = { cipher: ['aes128-ctr'], mac: ['hmac-sha2-256'], compress: ['none'], ...dir };
  return { kex: ['curve25519-sha256'], serverHostKey: ['ssh-ed25519'], cs: d, sc: d, ...over };
};

describe('KexInitSniffer', () => {
  it('finds the KEXINIT after banner lines and the identification, fed one byte at a time', () => {
    const wire = Buffer.concat([
      Buffer.from('Welcome to the bank\r\nSSH-2.0-OpenSSH_9.2p1\r\n'),
      kexinitPacket(offer({ kex: ['ecdh-sha2-nistp256', 'kex-strict-s-v00@openssh.com'] })),
      Buffer.from('encrypted garbage after it'),
    ]);
    const sniffer = new KexInitSniffer();
    for (const byte of wire) sniffer.push(Buffer.from([byte]));
    assert.equal(sniffer.done, true);
    assert.deepEqual(sniffer.offer?.kex, ['ecdh-sha2-nistp256', 'kex-strict-s-v00@openssh.com']);
    assert.deepEqual(sniffer.offer?.cs.mac, ['hmac-sha2-256']);
  });

  const malformed: [string, Buffer][] = [
    ['a first packet that is not a KEXINIT', Buffer.from([0, 0, 0, 12, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
    ['a packet length beyond 35000 bytes', Buffer.from([0, 1, 0, 0, 4, 20])],
    [
      'a name-list longer than the packet',
      Buffer.concat([
        Buffer.from([0, 0, 0, 30, 4, 20]),
        Buffer.alloc(16),
        Buffer.from([0xff, 0, 0, 0]),
        Buffer.alloc(8),
      ]),
    ],
    ['padding longer than the packet', Buffer.from([0, 0, 0, 4, 200, 20, 0, 0])],
  ];
  for (const [what, packet] of malformed) {
    it(`gives up quietly on ${what}`, () => {
      const sniffer = new KexInitSniffer();
      sniffer.push(Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), packet]));
      assert.equal(sniffer.done, true);
      assert.equal(sniffer.offer, undefined);
    });
  }

  it('stops buffering a server that never sends an identification line', () => {
    const sniffer = new KexInitSniffer();
    for (let i = 0; i < 20 && !sniffer.done; i++) sniffer.push(Buffer.alloc(4096, 0x41));
    assert.equal(sniffer.done, true, 'at most ~51 KiB kept');
    assert.equal(sniffer.offer, undefined);
  });
});

describe('findMismatch and explainMismatch', () => {
  const modern = clientAlgorithmPolicy('modern');
  it('skips the MAC when the cipher chosen is AEAD, as ssh2 does', () => {
    assert.equal(
      findMismatch(modern, offer({}, { cipher: ['aes128-gcm@openssh.com'], mac: ['hmac-sha1'] })),
      undefined,
    );
    assert.deepEqual(findMismatch(modern, offer({}, { mac: ['hmac-sha1'] })), {
      kind: 'mac',
      serverOffers: ['hmac-sha1'],
    });
  });

  it('names compat only when compat would agree with the server', () => {
    const ecdsaOnly = offer({ serverHostKey: ['ecdsa-sha2-nistp521'] });
    assert.equal(
      explainMismatch('modern', ecdsaOnly, 'h:22', 'HINT'),
      "no common host key type with h:22 (server offers ecdsa-sha2-nistp521); the server needs NIST ECDH or an ECDSA host key, which only the 'compat' algorithms allow: HINT",
    );
    assert.equal(explainMismatch('compat', ecdsaOnly, 'h:22', 'HINT'), undefined);
    // ECDSA and CBC: compat would not do either, so it is not suggested.
    const both = offer({ serverHostKey: ['ecdsa-sha2-nistp256'] }, { cipher: ['aes256-cbc'] });
    assert.equal(
      explainMismatch('modern', both, 'h:22', 'HINT'),
      "no common host key type with h:22 (server offers ecdsa-sha2-nistp256); Ferry's client does not use DSA or SHA-1 (ssh-rsa) host key signatures",
    );
    assert.equal(
      explainMismatch('compat', both, 'h:22', 'HINT'),
      "no common cipher with h:22 (server offers aes256-cbc); Ferry's client does not use CBC, 3DES, RC4 or Blowfish ciphers",
    );
  });

  it("keeps a hostile server's names to one printable, bounded line", () => {
    const names = [
      'evil\n\u001b[2Jcbc',
      'x'.repeat(5000),
      ...Array.from({ length: 100 }, (_, i) => `c${i}-cbc`),
    ];
    const line = explainMismatch('modern', offer({}, { cipher: names }), 'h:22', 'HINT')!;
    assert.doesNotMatch(line, /[\n\r\u001b]/);
    assert.ok(line.length < 500, `${line.length} characters`);
    assert.match(line, /server offers evil\?\?\[2Jcbc, x{64}\.\.\., c0-cbc, .*, and 90 more\)/);
  });
});
