// Starts a real OpenSSH sshd in a temp dir on a free port (own config, host key, authorized_keys) for client tests.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface OpenSshServer {
  readonly port: number;
  /** The account to log in as (the one running the tests). */
  readonly user: string;
  /** Where relative SFTP paths land (internal-sftp -d). */
  readonly root: string;
  readonly dir: string;
  /** `SHA256:...` of the host key sshd presents. */
  readonly hostKeySha256: string;
  readonly hostKeyPublic: string;
  /** Kills every per-connection sshd child (by pid, found through /proc), as a crash or a network cut would. */
  dropConnections(): number;
  close(): Promise<void>;
}

export interface OpenSshServerOptions {
  /** authorized_keys text for `user`. */
  authorizedKeys: string;
  /** Host key type (default ed25519). */
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
  /** Reuse a host key file (to restart "the same" server, or to swap keys). */
  hostKeyFile?: string;
  /** Another sshd build (default /usr/sbin/sshd), e.g. OpenSSH 10 unpacked by scripts/fetch-openssh10.sh. */
  sshdPath?: string;
  /** More sshd_config lines (SshdSessionPath for an unpacked OpenSSH 10, KexAlgorithms, ...). */
  extraConfig?: string[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Direct children of a process, from /proc (synchronous, so a test can cut a transfer at an exact point). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((p) => p !== '')
      .map(Number);
  } catch {
    return [];
  }
}

export async function startOpenSshServer(options: OpenSshServerOptions): Promise<OpenSshServer> {
  // sshd refuses to start without its privilege-separation directory, which only the sshd service creates.
  // Left in place afterwards: other sshd instances (parallel tests, the benchmark) may be using it.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sshd-'));
  const root = join(dir, 'root');
  await mkdir(root);
  const hostKey = options.hostKeyFile ?? join(dir, 'host_key');
  if (!options.hostKeyFile) {
    await execFileAsync('ssh-keygen', [
      '-q',
      '-t',
      options.hostKeyType ?? 'ed25519',
      '-N',
      '',
      '-f',
      hostKey,
    ]);
  }
  const hostKeyPublic = (await execFileAsync('ssh-keygen', ['-y', '-f', hostKey])).stdout.trim();
  const fingerprint = (await execFileAsync('ssh-keygen', ['-l', '-E', 'sha256', '-f', hostKey])).stdout;
  const hostKeySha256 = fingerprint.split(' ')[1]!;
  await writeFile(join(dir, 'authorized_keys'), options.authorizedKeys, { mode: 0o600 });
  const user = userInfo().username;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'PidFile none',
      'LogLevel ERROR',
      `Subsystem sftp internal-sftp -d ${root}`,
      ...(options.extraConfig ?? []),
    ].join('\n');
    const configFile = join(dir, 'sshd_config');
    await writeFile(configFile, `${config}\n`);
    const child = spawn(
      options.sshdPath ?? '/usr/sbin/sshd',
      ['-D', '-e', '-f', configFile, '-o', 'LogLevel=INFO'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    const listening = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('Server listening')) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!listening) {
      child.kill('SIGKILL');
      if (attempt < 3 && /Address already in use/.test(stderr)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sshd did not start: ${stderr}`);
    }
    const pid = child.pid!;
    const dropConnections = () => {
      const children = childrenOf(pid);
      for (const c of children) {
        try {
          process.kill(c, 'SIGKILL');
        } catch {
          // Already gone: the connection ended by itself.
        }
      }
      return children.length;
    };
    return {
      port,
      user,
      root,
      dir,
      hostKeySha256,
      hostKeyPublic,
      dropConnections,
      close: async () => {
        dropConnections();
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        if (child.exitCode === null && child.signalCode === null) await exited;
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
