// mlkem768x25519-sha256 checked from the primitives: the test plays the other side of the key exchange with
// keys it fixed (ML-KEM-768 from a fixed seed, RFC 7748's X25519 keys), computes the combiner
// K = SHA-256(K_pq || K_x25519) and the exchange hash H itself (draft-ietf-sshm-mlkem-hybrid-kex, RFC 4253 8),
// and accepts Ferry's answer only if Ferry's host-key signature verifies over that H and Ferry's next packet
// decrypts under keys derived from K encoded as a string. Malformed key shares end the connection with
// KEY_EXCHANGE_FAILED, on the server and in Ferry's client.
import assert from 'node:assert/strict';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  verify,
} from 'node:crypto';
import { createRequire } from 'node:module';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { ConnectError, connectSftp } from '../src/transfers/connection.js';
import { KEY_EXCHANGE_FAILED, kexinit, MSG, RawSsh, Reader, sshString } from './helpers/raw-ssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const KEX = 'mlkem768x25519-sha256';
const ALGS = { kex: KEX, hostKey: 'ssh-ed25519', cipher: 'aes128-ctr', mac: 'hmac-sha2-256' };
const EK_LEN = 1184;
const CT_LEN = 1088;

// RFC 7748 section 6.1 test keys.
const ALICE_PRIVATE = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
const ALICE_PUBLIC = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex');
const BOB_PRIVATE = Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex');
const BOB_PUBLIC = Buffer.from('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f', 'hex');
const ALICE_BOB_SHARED = Buffer.from(
  '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
  'hex',
);

const x25519Private = (raw: Buffer) =>
  createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), raw]),
    format: 'der',
    type: 'pkcs8',
  });
const x25519Public = (raw: Buffer) =>
  createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });
const x25519 = (priv: Buffer, pub: Buffer) =>
  diffieHellman({ privateKey: x25519Private(priv), publicKey: x25519Public(pub) });
const sha256 = (...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash('sha256')).digest();

// The client's fixed ML-KEM-768 key pair (FIPS 203 ML-KEM.KeyGen_internal from d || z).
const SEED = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
const clientKem = ml_kem768.keygen(SEED);
const CLIENT_SHARE = Buffer.concat([Buffer.from(clientKem.publicKey), ALICE_PUBLIC]);

// Pinned answers for the fixed keys above and ML-KEM message m = 0x42 * 32, worked out with @noble/post-quantum and
// node:crypto: the ML-KEM shared secret, and K = SHA-256(that || RFC 7748's Alice-Bob X25519 secret).
const COMBINER_KAT = '488fbb17f31b2ab6bbec76c4661cfe4279bd220c128e20ad48436929229376ce';
const MLKEM_SHARED_KAT = 'b83e7f23b33f909715c7a50b0d4b1f6684d53e1f4b9056f803b29f058ccb5566';

describe('mlkem768x25519-sha256 primitives (what the handshake checks below are built from)', () => {
  it('X25519 and ML-KEM-768 reproduce their published and fixed answers', () => {
    // The check that this test's X25519 is the RFC's: public keys from the private ones, then the shared value.
    assert.deepEqual(
      createPublicKey(x25519Private(ALICE_PRIVATE)).export({ format: 'der', type: 'spki' }).subarray(-32),
      ALICE_PUBLIC,
    );
    assert.deepEqual(x25519(ALICE_PRIVATE, BOB_PUBLIC), ALICE_BOB_SHARED);
    assert.deepEqual(x25519(BOB_PRIVATE, ALICE_PUBLIC), x25519(ALICE_PRIVATE, BOB_PUBLIC));
    // Deterministic encapsulation (message m fixed) and the combiner, pinned: a change in either primitive or in
    // the construction K = SHA-256(K_pq || K_x25519) shows here.
    const m = Buffer.alloc(32, 0x42);
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(clientKem.publicKey, m);
    assert.equal(cipherText.length, CT_LEN);
    assert.deepEqual(ml_kem768.decapsulate(cipherText, clientKem.secretKey), sharedSecret);
    assert.equal(Buffer.from(sharedSecret).toString('hex'), MLKEM_SHARED_KAT);
    const K = sha256(Buffer.from(sharedSecret), x25519(BOB_PRIVATE, ALICE_PUBLIC));
    assert.equal(K.toString('hex'), COMBINER_KAT);
  });

  it("ssh2's ML-KEM seam interoperates with @noble/post-quantum and applies the FIPS 203 modulus check", () => {
    const seam = createRequire(import.meta.url)('ssh2/lib/protocol/mlkem.js') as {
      isValidEncapsulationKey(ek: Uint8Array): boolean;
      generateKeyPair(): { encapsulationKey: Buffer; decapsulate(ct: Buffer): Buffer };
      encapsulate(ek: Uint8Array): { ciphertext: Buffer; sharedSecret: Buffer };
      backendName(): string;
    };
    // node:crypto's ML-KEM from Node 24.7 on (when OpenSSL has it), noble before.
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    const hasNodeKem = major > 24 || (major === 24 && minor >= 7);
    assert.equal(seam.backendName(), hasNodeKem ? 'node:crypto' : '@noble/post-quantum');
    // Seam encapsulates to noble's key; noble decapsulates. And the other way round.
    const enc = seam.encapsulate(clientKem.publicKey);
    assert.deepEqual(
      Buffer.from(ml_kem768.decapsulate(enc.ciphertext, clientKem.secretKey)),
      enc.sharedSecret,
    );
    const pair = seam.generateKeyPair();
    const back = ml_kem768.encapsulate(pair.encapsulationKey);
    assert.deepEqual(pair.decapsulate(Buffer.from(back.cipherText)), Buffer.from(back.sharedSecret));
    // A coefficient of 4095 (>= q = 3329) in t fails; so does a wrong length.
    const bad = Buffer.from(clientKem.publicKey);
    bad[0] = 0xff;
    bad[1] = (bad[1]! | 0x0f) & 0xff;
    assert.equal(seam.isValidEncapsulationKey(clientKem.publicKey), true);
    assert.equal(seam.isValidEncapsulationKey(bad), false);
    assert.equal(seam.isValidEncapsulationKey(clientKem.publicKey.subarray(1)), false);
    assert.throws(() => seam.encapsulate(bad), /Invalid ML-KEM-768 encapsulation key/);
  });
});

interface ServerReply {
  raw: RawSsh;
  payload: Buffer;
  vC: string;
  vS: string;
  iC: Buffer;
  iS: Buffer;
}

/** Plays a client up to the server's answer to KEX_ECDH_INIT carrying `share`. */
async function sendClientShare(port: number, share: Buffer): Promise<ServerReply> {
  const raw = await RawSsh.connect(port);
  const vC = 'SSH-2.0-FerryKexTest_1.0';
  raw.writeIdent(vC);
  const vS = await raw.readIdent();
  const iC = kexinit(ALGS);
  raw.writePacket(iC);
  const iS = await raw.readPacket();
  assert.equal(iS?.[0], MSG.KEXINIT);
  raw.writePacket(Buffer.concat([Buffer.from([MSG.KEX_ECDH_INIT]), sshString(share)]));
  const payload = await raw.readPacket();
  assert.ok(payload, 'server closed without answering');
  return { raw, payload, vC, vS, iC, iS: iS! };
}

describe('mlkem768x25519-sha256 on the Ferry server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('signs the exchange hash the draft defines, with K a string, and keys follow from it', async () => {
    // K's first byte decides whether string and mpint encodings differ (they do when it is 0 or >= 0x80, half
    // the time); keep handshaking until one did, so a wrong (mpint) encoding cannot slip through.
    let distinguishing = 0;
    let handshakes = 0;
    while (distinguishing === 0 && handshakes < 24) {
      handshakes++;
      const { raw, payload, vC, vS, iC, iS } = await sendClientShare(server.port, CLIENT_SHARE);
      try {
        assert.equal(payload[0], MSG.KEX_ECDH_REPLY);
        const reader = new Reader(payload, 1);
        const kS = reader.string();
        const qS = reader.string();
        const sig = reader.string();
        assert.equal(qS.length, CT_LEN + 32, 'server share: ciphertext || X25519 public');
        // Our side of the hybrid, from the primitives.
        const kPq = Buffer.from(ml_kem768.decapsulate(qS.subarray(0, CT_LEN), clientKem.secretKey));
        const kCl = x25519(ALICE_PRIVATE, qS.subarray(CT_LEN));
        const K = sha256(kPq, kCl);
        const H = sha256(
          sshString(vC),
          sshString(vS),
          sshString(iC),
          sshString(iS),
          sshString(kS),
          sshString(CLIENT_SHARE),
          sshString(qS),
          sshString(K),
        );
        // Ferry's Ed25519 host key signed exactly this H.
        const hostKey = new Reader(kS);
        assert.equal(hostKey.string().toString(), 'ssh-ed25519');
        const pub = hostKey.string();
        const sigReader = new Reader(sig);
        assert.equal(sigReader.string().toString(), 'ssh-ed25519');
        const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]);
        const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
        assert.ok(verify(null, H, key, sigReader.string()), 'host key signature over our H');
        // Keys derived from K as a string: Ferry's SERVICE_ACCEPT must decrypt and pass its MAC.
        raw.writePacket(Buffer.from([MSG.NEWKEYS]));
        raw.setKeys(sshString(K), H, H, true, 'out');
        assert.equal((await raw.readPacket())?.[0], MSG.NEWKEYS);
        raw.setKeys(sshString(K), H, H, true, 'in');
        raw.writePacket(Buffer.concat([Buffer.from([MSG.SERVICE_REQUEST]), sshString('ssh-userauth')]));
        const accept = await raw.readPacket();
        assert.equal(accept?.[0], MSG.SERVICE_ACCEPT);
        if (K[0] === 0 || K[0]! >= 0x80) distinguishing++;
      } finally {
        raw.destroy();
      }
    }
    assert.ok(distinguishing > 0, `no K with a leading 0x00 or high bit in ${handshakes} handshakes`);
  });

  const malformed: [string, () => Buffer][] = [
    ['a share one byte short', () => CLIENT_SHARE.subarray(0, CLIENT_SHARE.length - 1)],
    ['a share one byte long', () => Buffer.concat([CLIENT_SHARE, Buffer.alloc(1)])],
    ['an X25519 key alone (a curve25519 share)', () => ALICE_PUBLIC],
    [
      'an encapsulation key failing the FIPS 203 modulus check',
      () => {
        const share = Buffer.from(CLIENT_SHARE);
        share[0] = 0xff;
        share[1] = share[1]! | 0x0f;
        return share;
      },
    ],
    ['an all-zero X25519 key', () => Buffer.concat([clientKem.publicKey, Buffer.alloc(32)])],
    [
      'the low-order X25519 point u = 1 (all-zero shared secret)',
      () => Buffer.concat([clientKem.publicKey, Buffer.from([1]), Buffer.alloc(31)]),
    ],
  ];
  for (const [what, share] of malformed) {
    it(`ends the connection with KEY_EXCHANGE_FAILED for ${what}`, async () => {
      const { raw, payload } = await sendClientShare(server.port, share());
      try {
        assert.equal(payload[0], MSG.DISCONNECT, `expected DISCONNECT, got message ${payload[0]}`);
        assert.equal(new Reader(payload, 1).uint32(), KEY_EXCHANGE_FAILED);
        assert.ok(await raw.closed(), 'server closed the connection');
      } finally {
        raw.destroy();
      }
    });
  }
});

/** A fake server that answers Ferry's client with `reply(clientShare)` as its key share. */
async function fakeServer(reply: (clientShare: Buffer) => Buffer) {
  const seen: { clientShare?: Buffer; disconnectReason?: number } = {};
  const host = generateKeyPairSync('ed25519');
  const hostBlob = Buffer.concat([
    sshString('ssh-ed25519'),
    sshString(host.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)),
  ]);
  const done: Promise<void>[] = [];
  const srv = net.createServer((socket) => {
    const raw = new RawSsh(socket);
    done.push(
      (async () => {
        raw.writeIdent('SSH-2.0-FakePQ_1.0');
        await raw.readIdent();
        raw.writePacket(kexinit(ALGS));
        for (;;) {
          const p = await raw.readPacket();
          if (!p) break;
          if (p[0] === MSG.KEX_ECDH_INIT) {
            seen.clientShare = new Reader(p, 1).string();
            const sig = Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.alloc(64))]);
            raw.writePacket(
              Buffer.concat([
                Buffer.from([MSG.KEX_ECDH_REPLY]),
                sshString(hostBlob),
                sshString(reply(seen.clientShare)),
                sshString(sig),
              ]),
            );
            raw.writePacket(Buffer.from([MSG.NEWKEYS]));
          } else if (p[0] === MSG.DISCONNECT) {
            seen.disconnectReason = new Reader(p, 1).uint32();
          }
        }
      })().catch(() => {}),
    );
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as net.AddressInfo).port,
    seen,
    close: async () => {
      await Promise.all(done);
      await new Promise((resolve) => srv.close(resolve));
    },
  };
}

describe("mlkem768x25519-sha256 in Ferry's client", () => {
  const validServerShare = (clientShare: Buffer) => {
    const { cipherText } = ml_kem768.encapsulate(clientShare.subarray(0, EK_LEN));
    return Buffer.concat([cipherText, BOB_PUBLIC]);
  };
  const cases: [string, (clientShare: Buffer) => Buffer][] = [
    ['a server share one byte short', (c) => validServerShare(c).subarray(0, CT_LEN + 31)],
    ['a server share one byte long', (c) => Buffer.concat([validServerShare(c), Buffer.alloc(1)])],
    [
      'an all-zero server X25519 key',
      (c) => Buffer.concat([validServerShare(c).subarray(0, CT_LEN), Buffer.alloc(32)]),
    ],
  ];
  for (const [what, reply] of cases) {
    it(`offers it first with a well-formed share, and refuses ${what} with KEY_EXCHANGE_FAILED`, async () => {
      const fake = await fakeServer(reply);
      try {
        await assert.rejects(
          connectSftp({
            host: '127.0.0.1',
            port: fake.port,
            username: 'u',
            hostKey: () => true,
            timeoutMs: 10_000,
          }),
          (err: unknown) => err instanceof ConnectError && /mlkem768x25519/.test(err.message),
        );
      } finally {
        await fake.close();
      }
      const share = fake.seen.clientShare;
      assert.ok(share, 'the client sent KEX_ECDH_INIT');
      assert.equal(share.length, EK_LEN + 32);
      // A valid FIPS 203 key: noble's encapsulate applies the modulus check.
      ml_kem768.encapsulate(share.subarray(0, EK_LEN));
      assert.equal(fake.seen.disconnectReason, KEY_EXCHANGE_FAILED);
    });
  }
});
