// `ferry serve` nodes of a test cluster: each started on its own loopback address with ephemeral ports, resolved
// once the whole start (node registration included) is done.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { FERRY_BIN } from './cli.js';

export interface ClusterNode {
  readonly child: ChildProcessWithoutNullStreams;
  readonly address: string;
  readonly port: number;
  readonly httpPort: number;
  /** Everything the node wrote on stdout and stderr so far. */
  readonly output: () => string;
  /** `kill -9` of the whole node, its primary and its workers at once, as when its machine dies. */
  killNode(): Promise<void>;
}

/**
 * Starts `ferry serve` on `address` (SFTP and HTTP API on ephemeral ports) with `args` last, so a repeated option
 * of the caller's wins. The child is killed after the test.
 */
export function startClusterNode(
  address: string,
  args: string[],
  t: { after(fn: () => unknown): void },
  env: Record<string, string> = {},
): Promise<ClusterNode> {
  const child = spawn(
    process.execPath,
    [FERRY_BIN, 'serve', '--listen', address, '--sftp-port', '0', '--http-listen', `${address}:0`, ...args],
    // Its own process group, so that one signal reaches the primary and its workers (a worker whose primary
    // alone was killed stops by itself, which is not a crash).
    { env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env }, detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killNode = async () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    await exited;
  };
  t.after(killNode);
  let out = '';
  const escaped = address.replaceAll('.', '\\.');
  return new Promise<ClusterNode>((resolve, reject) => {
    const seen = (d: Buffer) => {
      out += d.toString();
      const m = new RegExp(`SFTP listening on ${escaped}:(\\d+)`).exec(out);
      const h = new RegExp(`HTTP API listening on http://${escaped}:(\\d+)`).exec(out);
      // The hardening lines come once the server started, node registration included (it follows the listeners).
      if (m && h && /^landlock: /m.test(out))
        resolve({
          child,
          address,
          port: Number(m[1]),
          httpPort: Number(h[1]),
          output: () => out,
          killNode,
        });
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}
