// Runs the real HAProxy (Debian's /usr/sbin/haproxy) in TCP mode in front of a Ferry SFTP port, for integration tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p));

export interface RunningHaproxy {
  readonly port: number;
  readonly config: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Ferry node behind the proxy: its SFTP address and the port of its HTTP API (/readyz), on the same host. */
export interface Backend {
  readonly sftp: string;
  readonly httpPort: number;
}

/** The configuration docs/CLUSTER.md shows, with the ports of this test (`send` is send-proxy or send-proxy-v2). */
export function haproxyConfig(
  port: number,
  backends: readonly Backend[],
  send: 'send-proxy' | 'send-proxy-v2',
): string {
  return [
    'global',
    '    maxconn 1000',
    'defaults',
    '    mode tcp',
    '    timeout connect 5s',
    '    timeout client 1h',
    '    timeout server 1h',
    'frontend sftp',
    `    bind 127.0.0.1:${port}`,
    '    default_backend ferry',
    'backend ferry',
    '    balance leastconn',
    // A node that drains (SIGTERM) or degrades answers 503 here and gets no new clients.
    '    option httpchk GET /readyz',
    '    http-check expect status 200',
    '    default-server inter 2s fall 2 rise 2',
    // A node that died is refused at once; the connection is retried on another node, not on the dead one.
    '    option redispatch',
    '    retries 3',
    ...backends.map((b, i) => `    server node${i + 1} ${b.sftp} ${send} check port ${b.httpPort}`),
    '',
  ].join('\n');
}

/** Starts HAProxy in the foreground and resolves once its frontend accepts connections. */
export async function startHaproxy(
  backends: readonly Backend[],
  send: 'send-proxy' | 'send-proxy-v2',
): Promise<RunningHaproxy> {
  if (!HAPROXY) throw new Error('haproxy is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-haproxy-'));
  const port = await freePort();
  const config = haproxyConfig(port, backends, send);
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const child: ChildProcess = spawn(HAPROXY, ['-f', file, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || attempt > 100) {
      await stop();
      throw new Error(`haproxy did not start: ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, config, stop };
}
