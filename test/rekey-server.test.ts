// Server-initiated rekeying (RFC 4253 section 9): with rekeyLimit 16 MiB, a 64 MiB upload and download see the
// server start key exchanges mid-transfer, under OpenSSH's sftp, PuTTY's psftp and paramiko, and the data stays
// byte-identical.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { commonSshOptions, makeClientKey, run } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { randomFile, sha256File } from './helpers/transfers.js';

const execFileAsync = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const MiB = 1024 * 1024;

async function paramikoMissing(): Promise<string | false> {
  try {
    await execFileAsync(PYTHON, ['-c', 'import paramiko']);
    return false;
  } catch {
    return `${PYTHON} cannot import paramiko (Debian package: python3-paramiko)`;
  }
}

/** Uploads then downloads a file over SFTP; paramiko logs one "Key exchange agreements" block per exchange. */
const PARAMIKO = `
import logging, sys, paramiko
port, user, key_file, local, remote, back = sys.argv[1:7]
logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
transport = paramiko.Transport(('127.0.0.1', int(port)))
transport.start_client(timeout=20)
transport.auth_publickey(user, paramiko.Ed25519Key.from_private_key_file(key_file))
sftp = paramiko.SFTPClient.from_transport(transport)
sftp.put(local, remote)
sftp.get(remote, back)
transport.close()
`;

const noParamiko = await paramikoMissing();
const noPutty = await execFileAsync('psftp', ['-V']).then(
  () => false,
  () => 'psftp is not installed (Debian package: putty-tools)',
);

describe('server-initiated rekey', () => {
  let server: TestServer;
  let work: string;
  let identity: string;

  before(async () => {
    // 16 MiB: the smallest practical limit, so 128 MiB of traffic needs several exchanges; the client's own
    // limits (OpenSSH: 2^32 blocks for AES-GCM; paramiko: 2^20 packets) are far off, so every exchange is ours.
    server = await startTestServer({ config: { rekeyLimit: 16 * MiB } });
    work = await mkdtemp(join(tmpdir(), 'ferry-rekey-'));
    const key = await makeClientKey(work, 'ed25519');
    identity = key.privatePath;
    await server.addUser('alice', { publicKeys: [key.publicText] });
  });
  after(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('OpenSSH sftp: the server rekeys about every 16 MiB of a 64 MiB upload and download', async (t) => {
    const hash = await randomFile(join(work, 'o.bin'), 64 * MiB);
    const r = await run(
      'sftp',
      [
        ...commonSshOptions({ port: server.port, user: 'alice', identity, options: ['LogLevel=DEBUG2'] }),
        '-P',
        String(server.port),
        '-b',
        '-',
        'alice@127.0.0.1',
      ],
      { input: 'put o.bin o.bin\nget o.bin o-back.bin\n', cwd: work, timeoutMs: 180_000 },
    );
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    // The client answers a KEXINIT it did not start: "KEXINIT received" comes before its own "sent".
    const exchanges = r.stderr.match(/debug1: kex: algorithm: /g)?.length ?? 0;
    t.diagnostic(`key exchanges: ${exchanges}`);
    assert.ok(exchanges >= 1 + 5, `expected >= 5 server-initiated rekeys, saw ${exchanges - 1}`);
    assert.equal(await sha256File(join(await server.homeOf('alice'), 'o.bin')), hash);
    assert.equal(await sha256File(join(work, 'o-back.bin')), hash);
  });

  it('PuTTY psftp: the same, logged as initiated by the remote side', { skip: noPutty }, async (t) => {
    await server.addUser('pat', { password: 'putty-pw-0123456789' });
    const hash = await randomFile(join(work, 'putty.bin'), 64 * MiB);
    const script = join(work, 'putty.batch');
    await writeFile(
      script,
      `put ${join(work, 'putty.bin')} putty.bin\nget putty.bin ${join(work, 'putty-back.bin')}\n`,
    );
    const hostKeys = (await server.running.context.hostKeys.activeMaterial()).flatMap((k) => [
      '-hostkey',
      k.sha256,
    ]);
    const { stderr } = await execFileAsync(
      'psftp',
      [
        '-v',
        '-batch',
        '-P',
        String(server.port),
        '-pw',
        'putty-pw-0123456789',
        ...hostKeys,
        '-b',
        script,
        'pat@127.0.0.1',
      ],
      { maxBuffer: 16 * MiB, timeout: 300_000 },
    );
    const rekeys = stderr.match(/Remote side initiated key re-exchange/g)?.length ?? 0;
    t.diagnostic(`server-initiated rekeys: ${rekeys}`);
    assert.ok(rekeys >= 5, `expected >= 5 server-initiated rekeys, saw ${rekeys}`);
    assert.equal(await sha256File(join(await server.homeOf('pat'), 'putty.bin')), hash);
    assert.equal(await sha256File(join(work, 'putty-back.bin')), hash);
  });

  it('paramiko: the same, with its own key exchange code', { skip: noParamiko }, async (t) => {
    const hash = await randomFile(join(work, 'p.bin'), 64 * MiB);
    const { stderr } = await execFileAsync(
      PYTHON,
      [
        '-c',
        PARAMIKO,
        String(server.port),
        'alice',
        identity,
        join(work, 'p.bin'),
        'p.bin',
        join(work, 'p-back.bin'),
      ],
      { maxBuffer: 64 * MiB, timeout: 300_000 },
    );
    const exchanges = stderr.match(/=== Key exchange agreements ===/g)?.length ?? 0;
    t.diagnostic(`key exchanges: ${exchanges}`);
    assert.ok(exchanges >= 1 + 5, `expected >= 5 server-initiated rekeys, saw ${exchanges - 1}`);
    assert.equal(await sha256File(join(await server.homeOf('alice'), 'p.bin')), hash);
    assert.equal(await sha256File(join(work, 'p-back.bin')), hash);
  });
});
