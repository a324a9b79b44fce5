// Post-quantum key exchange against real OpenSSH 10 (Debian bookworm-backports, unpacked by
// scripts/fetch-openssh10.sh): its sftp against Ferry, with and without forced rekeys, and Ferry's client
// against its sshd. Both ends must pick mlkem768x25519-sha256 on their own, from their default lists.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commonSshOptions, makeClientKey, run } from './helpers/openssh.js';
import { startOpenSshServer } from './helpers/openssh-server.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { randomFile, sha256File, transferFixture } from './helpers/transfers.js';

const openssh10 =
  process.env.FERRY_OPENSSH10_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ferry', 'openssh10');
const bin = (path: string) => join(openssh10, 'root', path);
const skip = existsSync(bin('usr/bin/sftp'))
  ? false
  : `OpenSSH 10 is not unpacked in ${openssh10} (run scripts/fetch-openssh10.sh; .ci/run does)`;

const MiB = 1024 * 1024;
const PQ_KEX = 'mlkem768x25519-sha256';

/** Every key exchange the client ran, as its -vv log names them (the first one and each rekey). */
const kexRuns = (stderr: string) => [...stderr.matchAll(/debug1: kex: algorithm: (\S+)/g)].map((m) => m[1]);

describe('post-quantum key exchange with OpenSSH 10', { skip }, () => {
  let server: TestServer;
  let work: string;
  let identity: string;

  before(async () => {
    server = await startTestServer();
    work = await mkdtemp(join(tmpdir(), 'ferry-pq-'));
    const key = await makeClientKey(work, 'ed25519');
    identity = key.privatePath;
    await server.addUser('alice', { publicKeys: [key.publicText] });
  });
  after(async () => {
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** OpenSSH 10's sftp (and its ssh, through -S) with its default algorithms, logging the key exchanges. */
  const sftp10 = (batch: string, options: string[] = []) =>
    run(
      bin('usr/bin/sftp'),
      [
        // ssh keeps the first value of an option: ours come before commonSshOptions' LogLevel=ERROR.
        ...commonSshOptions({
          port: server.port,
          user: 'alice',
          identity,
          options: ['LogLevel=DEBUG2', ...options],
        }),
        '-S',
        bin('usr/bin/ssh'),
        '-P',
        String(server.port),
        '-b',
        '-',
        'alice@127.0.0.1',
      ],
      { input: batch, cwd: work, timeoutMs: 180_000 },
    );

  it('negotiates mlkem768x25519-sha256 by default and moves 256 MiB both ways byte for byte', async () => {
    const hash = await randomFile(join(work, 'up.bin'), 256 * MiB);
    const r = await sftp10('put up.bin big.bin\nget big.bin down.bin\n');
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.deepEqual(kexRuns(r.stderr), [PQ_KEX], 'one key exchange, the post-quantum one');
    assert.match(r.stderr, /SSH2_MSG_KEX_ECDH_REPLY received/);
    assert.doesNotMatch(r.stderr, /not using a post-quantum key exchange/);
    assert.equal(await sha256File(join(await server.homeOf('alice'), 'big.bin')), hash);
    assert.equal(await sha256File(join(work, 'down.bin')), hash);
    // Shown to operators: the audit connect record says post-quantum, and /metrics counts it by kex.
    await server.running.context.audit.flush();
    const connects = (await server.running.context.store.audit.page({ limit: 100 }))
      .filter((r) => r.action === 'connect')
      .map((r) => JSON.parse(r.detail) as Record<string, unknown>);
    assert.ok(
      connects.some(
        (d) => d.kex === PQ_KEX && d.postQuantum === true && /^OpenSSH_10/.test(String(d.client)),
      ),
      JSON.stringify(connects),
    );
    await server.running.context.events.drainQueued(2000);
    const metrics = await (await fetch(`http://127.0.0.1:${server.running.httpPort}/metrics`)).text();
    assert.match(
      metrics,
      /^ferry_ssh_key_exchanges_total\{kex="mlkem768x25519-sha256",post_quantum="true"\} [1-9]/m,
    );
  });

  it('rekeys with mlkem768x25519-sha256 every 16 MiB (RekeyLimit=16M) mid-transfer without corrupting data', async (t) => {
    const hash = await randomFile(join(work, 'rekey.bin'), 128 * MiB);
    const r = await sftp10('put rekey.bin rekey.bin\nget rekey.bin rekey-back.bin\n', ['RekeyLimit=16M']);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const runs = kexRuns(r.stderr);
    t.diagnostic(`key exchanges: ${runs.length} (${runs.length - 1} rekeys)`);
    // 256 MiB through a 16 MiB limit: about 16 rekeys after the first exchange (the issue asks for 10 or more);
    // every one post-quantum.
    assert.ok(runs.length >= 11, `expected >= 10 rekeys, saw ${runs.length - 1}`);
    assert.ok(
      runs.every((k) => k === PQ_KEX),
      runs.join(','),
    );
    assert.equal(await sha256File(join(await server.homeOf('alice'), 'rekey.bin')), hash);
    assert.equal(await sha256File(join(work, 'rekey-back.bin')), hash);
  });

  it("Ferry's own client (partner connections) negotiates it with OpenSSH 10's sshd", async () => {
    const fx = await transferFixture();
    const sshd = await startOpenSshServer({
      authorizedKeys: fx.publicKey,
      sshdPath: bin('usr/sbin/sshd'),
      // OpenSSH 10 runs each connection in sshd-session and sshd-auth from its own libexec dir.
      extraConfig: [
        `SshdSessionPath ${bin('usr/lib/openssh/sshd-session')}`,
        `SshdAuthPath ${bin('usr/lib/openssh/sshd-auth')}`,
      ],
    });
    try {
      const { partners } = fx.ctx.transfers;
      await partners.add({
        name: 'pq',
        host: '127.0.0.1',
        port: sshd.port,
        username: sshd.user,
        clientKey: 'id',
      });
      await partners.pin('pq', await partners.fetchHostKey('pq'));
      const conn = await partners.connect('pq');
      try {
        assert.match(conn.serverBanner, /^OpenSSH_10\./);
        assert.equal(conn.algorithms.kex, PQ_KEX);
      } finally {
        await conn.close();
      }
    } finally {
      await sshd.close();
      await fx.close();
    }
  });
});
