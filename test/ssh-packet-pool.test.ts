// ssh2 reuses the buffers of the large packets it sends once the socket has written them (patches/ssh2+1.17.0.patch,
// `takePacket`): a buffer handed back too early would be overwritten by another session's packet while the kernel
// still had to take it, and the client would see a corrupt packet. Attacked here with a client whose socket stalls
// (a relay that stops reading from Ferry for a while) while six downloads share its one connection (OpenSSH's
// connection sharing: six channels of 2 MiB windows, more than the kernel's socket buffers take, so Ferry's
// writes wait), beside fast downloads on the same process, for each kind of cipher that writes a pooled packet;
// then Ferry's own client uploads (its pooled packets wait corked for the end of the turn), and the idle release
// gives the pool back.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { serveOneUserWithIdleGc } from './helpers/ferry-serve.js';
import { commonSshOptions, type RunResult, sftpBatch } from './helpers/openssh.js';

const MIB = 1024 * 1024;
const RELEASED_LINES = /\{[^\n]*"idle: kept rings and packet buffers given back"[^\n]*\}/g;
const CIPHERS: ReadonlyArray<readonly string[]> = [
  ['-o', 'Ciphers=aes128-gcm@openssh.com'],
  ['-o', 'Ciphers=chacha20-poly1305@openssh.com'],
  ['-o', 'Ciphers=aes128-ctr', '-o', 'MACs=hmac-sha2-256-etm@openssh.com'],
];

/**
 * A TCP relay to `port` that, once a connection has carried `after` bytes from the server, stops reading from the
 * server for `pauseMs` every `every` bytes: the server's socket fills and its writes wait for the client.
 */
async function stallingRelay(port: number, after: number, every: number, pauseMs: number) {
  const sockets = new Set<Socket>();
  let stalls = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    let carried = 0;
    let nextStall = after;
    upstream.on('data', (chunk: Buffer) => {
      carried += chunk.length;
      if (!client.write(chunk)) upstream.pause();
      if (carried >= nextStall) {
        nextStall += every;
        stalls++;
        upstream.pause();
        setTimeout(() => upstream.resume(), pauseMs);
      }
    });
    client.on('drain', () => upstream.resume());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    stalls: () => stalls,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('downloads stay byte-exact while another session stalls with sent packets pending, and the pool is given back', {
  timeout: 180_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-packet-pool-'));
  const children: ChildProcess[] = [];
  let relay: Awaited<ReturnType<typeof stallingRelay>> | undefined;
  try {
    // One process serves both sessions, so they share its pool; with the workers' flags it runs the idle release.
    const { serving, port, key } = await serveOneUserWithIdleGc(dir, 'pool', children);
    const source = join(dir, 'random.bin');
    const content = randomBytes(8 * MIB);
    await writeFile(source, content);
    const login = { user: 'pool', identity: key.privatePath };
    const put = await sftpBatch({ ...login, port, batch: `put ${source} /random.bin\n` });
    assert.equal(put.code, 0, put.stderr);
    relay = await stallingRelay(port, 2 * MIB, 8 * MIB, 1000);
    const relayPort = relay.port;
    for (const [index, cipher] of CIPHERS.entries()) {
      const what = cipher.join(' ');
      // The stalled connection: a master that the slow sessions' channels share.
      const control = join(dir, `ctl-${index}`);
      const master = spawn(
        'ssh',
        [
          ...commonSshOptions({ ...login, port: relayPort }),
          ...cipher,
          '-M',
          '-S',
          control,
          '-N',
          '-p',
          String(relayPort),
          'pool@127.0.0.1',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      children.push(master);
      let masterErr = '';
      master.stderr?.on('data', (d: Buffer) => {
        masterErr += d;
      });
      const ready = Date.now() + 20_000;
      while (!(await exists(control)) && Date.now() < ready) await new Promise((r) => setTimeout(r, 50));
      assert.ok(await exists(control), `${what}: the shared connection did not start: ${masterErr}`);
      const shared = ['-o', `ControlPath=${control}`, '-o', 'ControlMaster=no'];
      const slow: Array<Promise<RunResult>> = Array.from({ length: 6 }, (_, i) =>
        sftpBatch({
          ...login,
          port: relayPort,
          extraArgs: shared,
          batch: `get /random.bin ${join(dir, `slow${i}.bin`)}\n`,
        }),
      );
      const fastTarget = join(dir, 'fast.bin');
      // Fast downloads meanwhile: they take and give back pooled buffers all along.
      const fast: Promise<RunResult> = sftpBatch({
        ...login,
        port,
        extraArgs: [...cipher],
        batch: Array.from({ length: 4 }, () => `get /random.bin ${fastTarget}\n`).join(''),
      });
      for (const [i, result] of (await Promise.all(slow)).entries()) {
        assert.equal(result.code, 0, `${what}, stalled session ${i}: ${result.stderr}`);
        assert.equal(
          sha256(await readFile(join(dir, `slow${i}.bin`))),
          sha256(content),
          `${what}: stalled ${i}`,
        );
      }
      const fastResult = await fast;
      assert.equal(fastResult.code, 0, `${what}, fast session: ${fastResult.stderr}`);
      assert.equal(sha256(await readFile(fastTarget)), sha256(content), `${what}: fast download`);
      master.kill();
    }
    // Ferry's own client pools its packets too, and holds them corked until the end of the turn (coalesce-writes).
    const upload = await runFerry(
      [
        'sftp',
        '-q',
        '-b',
        '-',
        '-i',
        key.privatePath,
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-P',
        String(port),
        'pool@127.0.0.1',
      ],
      `put ${source} /up.bin\n`,
    );
    assert.equal(upload.code, 0, `ferry sftp put: ${upload.stderr}`);
    const back = join(dir, 'back.bin');
    const check = await sftpBatch({ ...login, port, batch: `get /up.bin ${back}\n` });
    assert.equal(check.code, 0, check.stderr);
    assert.equal(sha256(await readFile(back)), sha256(content), "ferry sftp's upload arrived whole");
    assert.ok(
      relay.stalls() >= CIPHERS.length * 3,
      `the relay stalled the downloads (${relay.stalls()} stalls)`,
    );
    // The release that followed the downloads (one after the first upload alone would have no packets in it).
    const packetRelease = () =>
      [...serving.stderr().matchAll(RELEASED_LINES)]
        .map((m) => (JSON.parse(m[0]) as { packetMB: number }).packetMB)
        .find((mb) => mb > 0);
    const until = Date.now() + 60_000;
    while (packetRelease() === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    const packetMB = packetRelease();
    assert.ok(packetMB !== undefined, `no idle release of packet buffers in 60 s:\n${serving.stderr()}`);
    // Three ciphers' full packets, at most 32 buffers of ~32 KiB each kept per size.
    assert.ok(packetMB <= 3.2, `sent packets' buffers kept until idle (${packetMB} MiB)`);
    await serving.stop();
  } finally {
    await relay?.close();
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
