// diffie-hellman-group-exchange-sha256 on the server (RFC 4419, RFC 8270 sizes): groups from a moduli file,
// chosen as OpenSSH chooses; OpenSSH's client logs in and transfers with it; bad requests and bad public values
// end the exchange with KEY_EXCHANGE_FAILED.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createDiffieHellmanGroup } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chooseGroup, fixedGroups, groupChooser, parseModuli } from '../src/ssh/moduli.js';
import { commonSshOptions, makeClientKey, run } from './helpers/openssh.js';
import { KEY_EXCHANGE_FAILED, kexinit, RawSsh, Reader, sshString } from './helpers/raw-ssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { randomFile, sha256File } from './helpers/transfers.js';

const GEX = 'diffie-hellman-group-exchange-sha256';
const MSG_GEX_GROUP = 31;
const MSG_GEX_INIT = 32;
const MSG_GEX_REQUEST = 34;
const SYSTEM_MODULI = '/etc/ssh/moduli';
const noModuli = existsSync(SYSTEM_MODULI)
  ? false
  : `${SYSTEM_MODULI} is absent (Debian package openssh-server)`;

const PYTHON = '/usr/bin/python3';
const noParamiko = await promisify(execFile)(PYTHON, ['-c', 'import paramiko']).then(
  () => false,
  () => `${PYTHON} cannot import paramiko (Debian package: python3-paramiko)`,
);

/**
 * paramiko runs a second key exchange (renegotiate_keys) before or after logging in, then asks for the
 * authentication service; prints "authenticated", "refused" or "closed <error>".
 */
const PARAMIKO_REKEY = `
import sys, paramiko
port, user, key_file, when = sys.argv[1:5]
t = paramiko.Transport(('127.0.0.1', int(port)))
t.start_client(timeout=20)
try:
    if when == 'before':
        t.renegotiate_keys()
    t.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key_file))
    if when == 'after':
        t.renegotiate_keys()
        t.open_session().close()
    print('authenticated')
except paramiko.AuthenticationException:
    # paramiko reports a connection closed mid-authentication as a failed authentication.
    print('refused' if t.is_active() else 'closed by server')
except Exception as e:
    print('closed', type(e).__name__)
t.close()
`;

/** A moduli(5) line for a prime of `bits` bits. */
const moduliLine = (prime: Buffer, generator = 2, bits = prime.length * 8) =>
  `20250101000000 2 6 100 ${bits - 1} ${generator} ${prime.toString('hex').toUpperCase()}`;

describe('moduli file parsing and group choice', () => {
  const g14 = createDiffieHellmanGroup('modp14').getPrime();
  const g15 = createDiffieHellmanGroup('modp15').getPrime();

  it('keeps screened safe primes of 2048-8192 bits and skips everything else', () => {
    const text = [
      '# Time Type Tests Tries Size Generator Modulus',
      moduliLine(g14),
      moduliLine(g15, 5),
      // Not a safe prime (type 1), not Miller-Rabin tested (tests 2), too small, size field lying, bad hex.
      moduliLine(g14).replace(' 2 6 100 ', ' 1 6 100 '),
      moduliLine(g14).replace(' 2 6 100 ', ' 2 2 100 '),
      moduliLine(createDiffieHellmanGroup('modp2').getPrime()),
      moduliLine(g14, 2, 3072),
      `${moduliLine(g14).slice(0, -4)}XYZ1`,
      'garbage',
      '',
    ].join('\n');
    const groups = parseModuli(text);
    assert.deepEqual(
      groups.map((g) => [g.bits, g.generator[0]]),
      [
        [2048, 2],
        [3072, 5],
      ],
    );
    assert.deepEqual(groups[1]!.prime, g15);
  });

  it("chooses as OpenSSH's sshd: the smallest size at least the wanted one, else the largest that fits", () => {
    const groups = fixedGroups();
    assert.deepEqual(
      groups.map((g) => g.bits),
      [2048, 3072, 4096, 6144, 8192],
    );
    assert.equal(chooseGroup(groups, 2048, 3000, 8192)?.bits, 3072);
    assert.equal(chooseGroup(groups, 2048, 4096, 8192)?.bits, 4096);
    assert.equal(chooseGroup(groups, 2048, 8192, 7000)?.bits, 6144);
    assert.equal(chooseGroup(groups, 2048, 2048, 2048)?.bits, 2048);
    assert.equal(chooseGroup(groups, 8193, 8193, 9000), undefined);
  });

  it('never chooses a group above the cap, whatever the client asks; an operator may raise it', () => {
    const groups = fixedGroups();
    const capped = groupChooser(groups, 4096);
    assert.equal(capped(2048, 8192, 8192)?.bits, 4096);
    assert.equal(capped(4096, 8192, 8192)?.bits, 4096);
    assert.equal(capped(6144, 8192, 8192), undefined, 'min 6144 above the 4096 cap: no group');
    assert.equal(capped(8192, 8192, 8192), undefined, 'min 8192: no group');
    assert.equal(groupChooser(groups, 8192)(8192, 8192, 8192)?.bits, 8192);
  });

  it('reads the system moduli file: every group usable', { skip: noModuli }, () => {
    const groups = parseModuli(readFileSync(SYSTEM_MODULI, 'utf8'));
    assert.ok(groups.length > 100, `${groups.length} groups`);
    assert.ok(groups.every((g) => g.bits >= 2048 && g.bits <= 8192));
  });
});

/** Plays a client up to the server's KEX_DH_GEX_GROUP answer (or its disconnect) for a request. */
async function requestGroup(port: number, min: number, n: number, max: number) {
  const raw = await RawSsh.connect(port);
  raw.writeIdent('SSH-2.0-FerryGexTest_1.0');
  await raw.readIdent();
  raw.writePacket(kexinit({ kex: GEX, hostKey: 'ssh-ed25519', cipher: 'aes128-ctr', mac: 'hmac-sha2-256' }));
  await raw.readPacket(); // server KEXINIT
  const request = Buffer.alloc(13);
  request[0] = MSG_GEX_REQUEST;
  request.writeUInt32BE(min, 1);
  request.writeUInt32BE(n, 5);
  request.writeUInt32BE(max, 9);
  raw.writePacket(request);
  const reply = await raw.readPacket();
  assert.ok(reply, 'server closed without answering');
  return { raw, reply };
}

const disconnectReason = (payload: Buffer | undefined) =>
  payload?.[0] === 1 ? new Reader(payload, 1).uint32() : `message ${payload?.[0]}`;

describe('group exchange on the Ferry server', () => {
  let server: TestServer;
  let fallback: TestServer;
  let work: string;
  const g15 = createDiffieHellmanGroup('modp15').getPrime();
  const g16 = createDiffieHellmanGroup('modp16').getPrime();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ferry-gex-'));
    // A moduli file the test knows: one 3072-bit and one 4096-bit group (RFC 3526's, generator 5 for 3072).
    const moduli = join(work, 'moduli');
    await writeFile(moduli, `${moduliLine(g15, 5)}\n${moduliLine(g16)}\n`);
    server = await startTestServer({ config: { moduliFile: moduli } });
    fallback = await startTestServer({ config: { moduliFile: join(work, 'absent') } });
  });
  after(async () => {
    await server?.close();
    await fallback?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('hands out the group from the moduli file that fits the request', async () => {
    for (const [n, prime, generator] of [
      [3072, g15, 5],
      [2048, g15, 5],
      [4000, g16, 2],
    ] as const) {
      const { raw, reply } = await requestGroup(server.port, 2048, n, 8192);
      raw.destroy();
      assert.equal(reply[0], MSG_GEX_GROUP);
      const r = new Reader(reply, 1);
      const p = r.string();
      assert.deepEqual(p[0] === 0 ? p.subarray(1) : p, prime, `group for n=${n}`);
      assert.deepEqual([...r.string()], [generator]);
    }
  });

  it('asks for 8192 bits get 4096, a minimum above 4096 fails key exchange (CPU before login); RFC 3526 without moduli', async () => {
    const { raw, reply } = await requestGroup(fallback.port, 2048, 8192, 8192);
    raw.destroy();
    const p = new Reader(reply, 1).string();
    assert.deepEqual(p.subarray(1), g16);
    // A client insisting on more than 4096 bits gets no group: the exchange fails before any big-group CPU.
    for (const min of [6144, 8192]) {
      const strict = await requestGroup(fallback.port, min, 8192, 8192);
      strict.raw.destroy();
      assert.equal(disconnectReason(strict.reply), KEY_EXCHANGE_FAILED, `min ${min}`);
    }
  });

  for (const [what, min, n, max] of [
    ['min above max', 4096, 4096, 2048],
    ['n outside min..max', 2048, 9000, 4096],
    ['only groups under 2048 bits', 1024, 1024, 1536],
    ['a minimum above 8192 bits', 9000, 9000, 10000],
  ] as const) {
    it(`refuses a request with ${what} with KEY_EXCHANGE_FAILED`, async () => {
      const { raw, reply } = await requestGroup(server.port, min, n, max);
      raw.destroy();
      assert.equal(disconnectReason(reply), KEY_EXCHANGE_FAILED);
    });
  }

  for (const [what, value] of [
    ['e = 1', () => Buffer.from([1])],
    [
      'e = p - 1',
      () => Buffer.concat([Buffer.from([0]), g15.subarray(0, -1), Buffer.from([g15.at(-1)! - 1])]),
    ],
    ['e = p', () => Buffer.concat([Buffer.from([0]), g15])],
  ] as const) {
    it(`refuses the public value ${what} with KEY_EXCHANGE_FAILED`, async () => {
      const { raw } = await requestGroup(server.port, 2048, 3072, 8192);
      try {
        raw.writePacket(Buffer.concat([Buffer.from([MSG_GEX_INIT]), sshString(value())]));
        assert.equal(disconnectReason(await raw.readPacket()), KEY_EXCHANGE_FAILED);
      } finally {
        raw.destroy();
      }
    });
  }

  it('a second key exchange before login ends the connection; after login it is a normal rekey', {
    skip: noParamiko,
  }, async () => {
    const key = await makeClientKey(work, 'ed25519', 'id_rekeyer');
    await server.addUser('rekeyer', { publicKeys: [key.publicText] });
    const paramiko = async (when: string) =>
      (
        await promisify(execFile)(
          PYTHON,
          ['-c', PARAMIKO_REKEY, String(server.port), 'rekeyer', key.privatePath, when],
          { timeout: 60_000 },
        )
      ).stdout.trim();
    assert.equal(await paramiko('none'), 'authenticated');
    assert.equal(await paramiko('after'), 'authenticated');
    assert.match(await paramiko('before'), /^closed /);
  });

  it("OpenSSH's client logs in with it and transfers byte-identical data", async () => {
    const key = await makeClientKey(work, 'ed25519');
    await server.addUser('alice', { publicKeys: [key.publicText] });
    const hash = await randomFile(join(work, 'g.bin'), 4 * 1024 * 1024);
    const r = await run(
      'sftp',
      [
        ...commonSshOptions({
          port: server.port,
          user: 'alice',
          identity: key.privatePath,
          options: ['LogLevel=DEBUG2', `KexAlgorithms=${GEX}`],
        }),
        '-P',
        String(server.port),
        '-b',
        '-',
        'alice@127.0.0.1',
      ],
      { input: 'put g.bin g.bin\nget g.bin g-back.bin\n', cwd: work },
    );
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stderr, /kex: algorithm: diffie-hellman-group-exchange-sha256/);
    assert.match(r.stderr, /SSH2_MSG_KEX_DH_GEX_GROUP received/);
    // The 3072- or 4096-bit group of our file ("bits set: k/N" names the group size).
    assert.match(r.stderr, /bits set: \d+\/(3072|4096)\b/);
    assert.equal(await sha256File(join(await server.homeOf('alice'), 'g.bin')), hash);
    assert.equal(await sha256File(join(work, 'g-back.bin')), hash);
  });
});
