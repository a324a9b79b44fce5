import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FERRY_BIN, runFerry } from './cli.js';
import { type ClientKey, makeClientKey } from './openssh.js';

const execFileAsync = promisify(execFile);

export interface Serving {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  stop(): Promise<void>;
}

/**
 * `ferry serve --data-dir DIR` until it prints `pattern` on stdout; logs at info (or `logLevel`) on stderr,
 * collected; `nodeFlags` go to node before the script. The child is pushed on `children` for the caller's cleanup.
 */
export async function serveFerry(
  dataDir: string,
  children: ChildProcess[],
  args: string[],
  pattern: RegExp,
  {
    nodeFlags = [],
    logLevel = 'info',
    env = {},
  }: { nodeFlags?: string[]; logLevel?: string; env?: Record<string, string> } = {},
): Promise<{ serving: Serving; match: RegExpMatchArray }> {
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      FERRY_BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1',
      '--sftp-port',
      '0',
      ...args,
    ],
    {
      env: { ...process.env, FERRY_LOG_LEVEL: logLevel, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in time:\n${stdout}\n${stderr}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = stdout.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}):\n${stdout}\n${stderr}`));
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { serving: { child, stderr: () => stderr, stop }, match };
}

/**
 * `DIR/data` with one user who logs in with a new ed25519 key, served over SFTP by one process with the workers'
 * heap flags, so that it runs the idle GC and its release of kept buffers itself; logs at debug.
 */
export async function serveOneUserWithIdleGc(
  dir: string,
  user: string,
  children: ChildProcess[],
  env: Record<string, string> = {},
): Promise<{ serving: Serving; port: number; key: ClientKey }> {
  const dataDir = join(dir, 'data');
  const key = await makeClientKey(dir, 'ed25519');
  const init = await runFerry(['init', '--data-dir', dataDir]);
  if (init.code !== 0) throw new Error(`ferry init: ${init.stderr}`);
  const added = await runFerry(['users', 'add', user, '--public-key', key.publicPath, '--data-dir', dataDir]);
  if (added.code !== 0) throw new Error(`ferry users add: ${added.stderr}`);
  const { serving, match } = await serveFerry(
    dataDir,
    children,
    ['--http-listen', '127.0.0.1:0', '--workers', '1'],
    /SFTP listening on 127\.0\.0\.1:(\d+)/,
    { nodeFlags: ['--initial-old-space-size=256', '--expose-gc'], logLevel: 'debug', env },
  );
  return { serving, port: Number(match[1]), key };
}

export async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await execFileAsync('curl', ['-sS', '-w', '\n%{http_code}', ...args]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}
