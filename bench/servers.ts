// Starts the two servers under test on loopback: Ferry (child process, temp data dir) and a private OpenSSH sshd.
import { execFile, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { access, constants, mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cleanup } from './cleanup.js';
import { awaitListening } from './listening.js';

const execFileAsync = promisify(execFile);

export type ServerName = 'ferry' | 'openssh';

export interface BenchServer {
  readonly name: ServerName;
  readonly port: number;
  readonly user: string;
  /** Pid whose process tree is the server (Ferry's primary, sshd's listener). */
  readonly pid: number;
  /** Where transfers go, as the server names it and as it is on the local disk. */
  readonly remoteDir: string;
  readonly localDir: string;
  /** How to name a path under the shared directory `BenchLayout.sharedDir` on this server. */
  sharedPath(name: string): string;
  /** A line saying how it was started (workers, versions). */
  readonly description: string;
  stop(): Promise<void>;
}

export interface BenchLayout {
  readonly root: string;
  readonly clientKey: string;
  readonly clientPublicKey: string;
  /** Ferry's home (chroot); the shared directory (100 000 files) lives in it so both servers can list it. */
  readonly ferryHome: string;
  readonly sharedDir: string;
  readonly logDir: string;
}

export const SSHD_PATH = '/usr/sbin/sshd';

/** The account both servers know for the password-login rows (a Ferry user, and a system account for sshd). */
export const PASSWORD_USER = 'ferry-bench-pw';

async function which(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, command);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // Not in this PATH entry.
    }
  }
  return undefined;
}

/** Everything the benchmark needs but does not install; an empty list means it can run. */
export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of ['sftp', 'ssh', 'ssh-keygen']) {
    if (!(await which(tool))) missing.push(`${tool} (Debian: apt-get install openssh-client)`);
  }
  if (!existsSync(SSHD_PATH)) missing.push(`${SSHD_PATH} (Debian: apt-get install openssh-server)`);
  if (process.platform !== 'linux') missing.push('Linux /proc (server memory is read from it)');
  return missing;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error(`server exited before listening on ${port}`);
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function makeClientKey(root: string): Promise<{ key: string; pub: string }> {
  const key = join(root, 'client_ed25519');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench@ferry', '-f', key]);
  return { key, pub: `${key}.pub` };
}

/**
 * Every session of the benchmark comes from 127.0.0.1 as one user, 200 of them at once: lift Ferry's
 * per-address and per-user admission limits, as MaxStartups is lifted for sshd (variables a Ferry without
 * these settings ignores).
 */
const FERRY_BENCH_LIMITS = {
  FERRY_MAX_CONNECTIONS_PER_ADDRESS: '100000',
  FERRY_MAX_UNAUTHENTICATED_PER_ADDRESS: '10000',
  FERRY_MAX_SESSIONS_PER_USER: '100000',
};

/**
 * The node flags of `npm start` (package.json's script, read so the two cannot drift): a server whose workers are
 * threads gets its heap sizes from them, as one started by `npm start`, the unit file or the Dockerfile does.
 */
export const NPM_START_NODE_FLAGS: readonly string[] = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: { start: string };
  }
).scripts.start
  .split(/\s+/)
  .filter((word) => word.startsWith('--'));

export interface FerryStartOptions {
  /** Passed as `--workers N` when the CLI has the flag; undefined lets Ferry choose. */
  workers?: number;
  /**
   * Run the workers as threads of one process (`--worker-mode threads`), with the node flags `npm start` gives
   * the process (the heap sizes worker processes get by themselves).
   */
  threads?: boolean;
  /** Run the server under `node --cpu-prof` writing profiles here. */
  cpuProfileDir?: string;
  /** More environment for the server (the rules scenario's SMTP server). */
  env?: Record<string, string>;
  /** More `ferry serve` flags (the api scenario's `--http-listen`). */
  extraArgs?: readonly string[];
  /** Runs against the initialised data dir just before the server starts (the web rows' certificate). */
  beforeStart?: (dataDir: string) => Promise<void>;
}

/** True when `ferry serve` knows `--workers` (the multi-process mode). */
export async function ferryHasWorkers(repo: string): Promise<boolean> {
  const { stdout } = await execFileAsync(process.execPath, ['bin/ferry.js', 'serve', '--help'], {
    cwd: repo,
  });
  return stdout.includes('--workers');
}

/** True when the Ferry under test has `ferry init` (other commands then need an initialised data dir). */
async function ferryHasInit(repo: string): Promise<boolean> {
  const { stdout } = await execFileAsync(process.execPath, ['bin/ferry.js', '--help'], { cwd: repo });
  return /^\s+init\b/m.test(stdout);
}

export async function startFerry(
  repo: string,
  layout: BenchLayout,
  cleanup: Cleanup,
  options: FerryStartOptions,
): Promise<BenchServer> {
  const dataDir = join(layout.root, 'ferry-data');
  const localDir = join(layout.ferryHome, 'xfer');
  await mkdir(localDir, { recursive: true });
  if (await ferryHasInit(repo)) {
    await execFileAsync(process.execPath, ['bin/ferry.js', 'init', '--data-dir', dataDir], { cwd: repo });
  }
  await execFileAsync(
    process.execPath,
    [
      'bin/ferry.js',
      'users',
      'add',
      'bench',
      '--public-key',
      layout.clientPublicKey,
      '--home',
      layout.ferryHome,
      '--data-dir',
      dataDir,
    ],
    { cwd: repo },
  );
  await options.beforeStart?.(dataDir);
  const hasWorkers = await ferryHasWorkers(repo);
  const workerArgs = [
    ...(hasWorkers && options.workers !== undefined ? ['--workers', String(options.workers)] : []),
    ...(options.threads ? ['--worker-mode', 'threads'] : []),
  ];
  const nodeArgs = [
    ...(options.threads ? NPM_START_NODE_FLAGS : []),
    ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
  ];
  // Landlock lets a server write only under its data dir: the profiles written at exit would fail with EACCES.
  const profiling = options.cpuProfileDir ? { FERRY_LANDLOCK: 'false' } : {};
  const args = [
    ...nodeArgs,
    'bin/ferry.js',
    'serve',
    '--data-dir',
    dataDir,
    '--listen',
    '127.0.0.1',
    '--sftp-port',
    '0',
    ...workerArgs,
    ...(options.extraArgs ?? []),
  ];
  const log = openSync(join(layout.logDir, 'ferry.log'), 'a');
  const child = cleanup.process(
    spawn(process.execPath, args, {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'pipe', log],
      env: { ...process.env, ...FERRY_BENCH_LIMITS, ...profiling, ...options.env },
    }),
    true,
  );
  const [, port] = await awaitListening(child, /SFTP listening on 127\.0\.0\.1:(\d+)/, 'Ferry', {
    hint: `see ${join(layout.logDir, 'ferry.log')}`,
  });
  const workers = hasWorkers
    ? `--workers ${options.workers ?? 'default'}${options.threads ? ' --worker-mode threads' : ''}`
    : 'one process (this ferry has no --workers flag yet)';
  return {
    name: 'ferry',
    port: Number(port),
    user: 'bench',
    pid: child.pid!,
    remoteDir: '/xfer',
    localDir,
    sharedPath: (name) =>
      `/${layout.sharedDir.slice(layout.ferryHome.length + 1)}/${name}`.replace(/\/+$/, ''),
    description: `ferry serve, ${workers}, node ${process.version}`,
    stop: () => cleanup.stop(child, 15_000),
  };
}

function sshdConfig(dir: string, port: number, user: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `AllowUsers ${user} ${PASSWORD_USER}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    // For the password-login rows' account only (the others log in with a key, PreferredAuthentications=publickey).
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PidFile none',
    'ChrootDirectory none',
    'UseDNS no',
    'PrintMotd no',
    // 200 idle sessions arrive faster than sshd's default MaxStartups 10:30:100 lets unauthenticated ones in.
    'MaxStartups 1000',
    'LoginGraceTime 120',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

export async function startSshd(layout: BenchLayout, cleanup: Cleanup): Promise<BenchServer> {
  const dir = join(layout.root, 'sshd');
  const localDir = join(layout.root, 'sshd-xfer');
  await mkdir(dir, { recursive: true });
  await mkdir(localDir, { recursive: true });
  // sshd refuses to start without its privilege-separation directory (Debian creates it from the service unit).
  // It is left in place: another sshd (a test run, a second bench) may be using it at the same time.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await execFileAsync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-f',
    join(dir, 'ssh_host_ed25519_key'),
  ]);
  await writeFile(join(dir, 'authorized_keys'), await readFile(layout.clientPublicKey), { mode: 0o600 });
  const user = (await execFileAsync('id', ['-un'])).stdout.trim();
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  await writeFile(config, sshdConfig(dir, port, user));
  try {
    await execFileAsync(SSHD_PATH, ['-t', '-f', config]);
  } catch (err) {
    throw new Error(
      `sshd rejects the benchmark config: ${(err as { stderr?: string }).stderr ?? String(err)}`,
    );
  }
  const version = (await execFileAsync('ssh', ['-V'])).stderr.trim();
  const log = openSync(join(layout.logDir, 'sshd.log'), 'a');
  const child = cleanup.process(
    spawn(SSHD_PATH, ['-D', '-e', '-f', config], { detached: true, stdio: ['ignore', 'ignore', log] }),
    true,
  );
  await waitForPort(port, 10_000, () => child.exitCode === null);
  return {
    name: 'openssh',
    port,
    user,
    pid: child.pid!,
    remoteDir: localDir,
    localDir,
    sharedPath: (name) => join(layout.sharedDir, name).replace(/\/+$/, ''),
    description: `${SSHD_PATH} -D -e (internal-sftp, user ${user}), ${version}`,
    stop: () => cleanup.stop(child, 5000),
  };
}
