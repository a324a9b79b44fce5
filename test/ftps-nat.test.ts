// FTPS behind NAT: PASV announces the configured public address (ftps.passiveAddress), lftp reaches the server
// through a forwarding "NAT" on another loopback address, and data connections must still come from the control
// connection's source address.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer } from './helpers/server.js';

const run = promisify(execFile);
/** The NAT's public address, and the address its forwarded connections come from (the client's, as seen). */
const PUBLIC = '127.0.0.3';
const CLIENT_AS_SEEN = '127.0.0.4';

/**
 * Forwards PUBLIC:port to 127.0.0.1:port for each port, every forwarded connection coming from CLIENT_AS_SEEN:
 * what a NAT in front of the server does to one client (destination rewritten, source kept).
 */
async function startNat(ports: readonly number[]): Promise<{ close(): Promise<void> }> {
  const servers: Server[] = [];
  for (const port of ports) {
    const server = createServer((inbound) => {
      const outbound = connect({ host: '127.0.0.1', port, localAddress: CLIENT_AS_SEEN });
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, PUBLIC, () => resolve());
    });
    servers.push(server);
  }
  return {
    close: async () => {
      for (const s of servers) {
        s.close();
        (s as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      }
    },
  };
}

/** A run of `count` ports free on both 127.0.0.1 and PUBLIC (the passive range and its NAT forwards). */
async function freeRange(count: number): Promise<number[]> {
  const free = (host: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 40_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    let ok = true;
    for (const p of ports) ok = ok && (await free('127.0.0.1', p)) && (await free(PUBLIC, p));
    if (ok) return ports;
  }
  throw new Error('no free port range');
}

/** curl over explicit FTPS with PASV (not EPSV: PASV is the reply that carries an address), using that address. */
const curl = (args: readonly string[]) =>
  run(
    'curl',
    [
      '-v',
      '-sS',
      '--ssl-reqd',
      '-k',
      '--disable-epsv',
      '--no-ftp-skip-pasv-ip',
      '--connect-timeout',
      '5',
      ...args,
    ],
    { timeout: 60_000 },
  );
const url = (host: string, port: number, path: string) => `ftp://nat:pw-nat-12345@${host}:${port}/${path}`;

test('PASV announces ftps.passiveAddress; transfers work through the NAT; data must come from the control peer', async () => {
  const ports = await freeRange(4);
  const server = await startTestServer({
    config: {
      ftps: {
        port: 0,
        passivePorts: `${ports[0]}-${ports.at(-1)}`,
        passiveAddress: PUBLIC,
      },
    },
  });
  const control = server.running.ftps!.port!;
  const nat = await startNat([control, ...ports]);
  const work = await mkdtemp(join(tmpdir(), 'ferry-ftps-nat-'));
  try {
    await server.addUser('nat', { password: 'pw-nat-12345' });
    const home = await server.homeOf('nat');
    const content = randomBytes(1_500_000);
    await writeFile(join(work, 'up.bin'), content);
    const up = await curl(['-T', join(work, 'up.bin'), url(PUBLIC, control, 'up.bin')]);
    assert.match(
      up.stderr,
      /227 Entering Passive Mode \(127,0,0,3,\d+,\d+\)/,
      'PASV names the public address',
    );
    assert.match(up.stderr, /Connecting to 127\.0\.0\.3 \(127\.0\.0\.3\) port \d+/);
    await curl(['-o', join(work, 'back.bin'), url(PUBLIC, control, 'up.bin')]);
    assert.deepEqual(await readFile(join(home, 'up.bin')), content);
    assert.deepEqual(await readFile(join(work, 'back.bin')), content);

    // A client that reaches the server directly (control from 127.0.0.1) is still told the public address; its
    // data connection then arrives through the NAT from another source, and is refused.
    const direct = await curl(['-T', join(work, 'up.bin'), url('127.0.0.1', control, 'direct.bin')]).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' }),
    );
    assert.match(direct.stderr, /227 Entering Passive Mode \(127,0,0,3,/);
    // The server cuts the data connection before its TLS handshake: curl's "SSL connect error".
    assert.equal(direct.code, 35, direct.stderr.slice(-400));
    await assert.rejects(stat(join(home, 'direct.bin')), 'nothing arrived');
  } finally {
    await nat.close();
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
});
