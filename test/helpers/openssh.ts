// Drives the real OpenSSH clients (ssh, sftp, scp, ssh-keygen) against a test server.
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ClientKey {
  readonly privatePath: string;
  readonly publicPath: string;
  readonly publicText: string;
}

/** Generates a key pair with ssh-keygen (ed25519, ecdsa, rsa). */
export async function makeClientKey(
  dir: string,
  type: 'ed25519' | 'ecdsa' | 'rsa',
  name = `id_${type}`,
): Promise<ClientKey> {
  const privatePath = join(dir, name);
  const args = ['-q', '-t', type, '-N', '', '-C', `${name}@test`, '-f', privatePath];
  if (type === 'rsa') args.push('-b', '3072');
  await execFileAsync('ssh-keygen', args);
  return {
    privatePath,
    publicPath: `${privatePath}.pub`,
    publicText: await readFile(`${privatePath}.pub`, 'utf8'),
  };
}

export interface LoginOptions {
  port: number;
  user: string;
  /** Private key file; without it only password auth is tried. */
  identity?: string;
  password?: string;
  /** Extra -o options, e.g. ['PubkeyAcceptedAlgorithms=rsa-sha2-256']. */
  options?: string[];
  /** The server's address (default 127.0.0.1). */
  host?: string;
}

/** Options every OpenSSH client run uses: no config file, no known_hosts, nothing from the agent. */
export function commonSshOptions(o: LoginOptions): string[] {
  // ssh keeps the first value given for an option, so the caller's options come before our defaults.
  const opts = (o.options ?? []).flatMap((extra) => ['-o', extra]);
  opts.push(
    '-F',
    '/dev/null',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'IdentityAgent=none',
    '-o',
    'ConnectTimeout=10',
    '-o',
    `PreferredAuthentications=${o.identity && o.password !== undefined ? 'publickey,password' : o.identity ? 'publickey' : 'password'}`,
    '-o',
    `NumberOfPasswordPrompts=1`,
  );
  if (o.identity) opts.push('-o', 'IdentitiesOnly=yes', '-i', o.identity);
  else opts.push('-o', 'PubkeyAuthentication=no');
  // Must precede sftp's own "-oBatchMode yes" (-b) to win: ssh keeps the first value of an option.
  opts.push('-o', `BatchMode=${o.password === undefined ? 'yes' : 'no'}`);
  return opts;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, feeding `input` on stdin; passwords go through sshpass (-e, from the environment). */
export function run(
  command: string,
  args: string[],
  o: { password?: string | undefined; input?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const [cmd, argv] = o.password === undefined ? [command, args] : ['sshpass', ['-e', command, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: o.cwd,
      env: { ...process.env, SSHPASS: o.password ?? '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that never reads its stdin may close it first; that is not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}

/** `sftp -b -` with the batch given as text. */
export function sftpBatch(
  o: LoginOptions & { batch: string; cwd?: string; extraArgs?: string[] },
): Promise<RunResult> {
  const args = [
    ...commonSshOptions(o),
    '-P',
    String(o.port),
    ...(o.extraArgs ?? []),
    '-b',
    '-',
    `${o.user}@${o.host ?? '127.0.0.1'}`,
  ];
  return run('sftp', args, { password: o.password, input: o.batch, cwd: o.cwd });
}

/** `ssh user@host command...` */
export function sshRun(o: LoginOptions & { command?: string[]; extraArgs?: string[] }): Promise<RunResult> {
  const args = [
    ...commonSshOptions(o),
    '-p',
    String(o.port),
    ...(o.extraArgs ?? []),
    `${o.user}@127.0.0.1`,
    ...(o.command ?? []),
  ];
  return run('ssh', args, { password: o.password });
}

/** `scp [extra] sources... target` with host parts written as `remote:path`. */
export function scpRun(o: LoginOptions & { args: string[]; cwd?: string }): Promise<RunResult> {
  const args = [
    ...commonSshOptions(o),
    '-P',
    String(o.port),
    ...o.args.map((a) => (a.startsWith('remote:') ? `${o.user}@127.0.0.1:${a.slice('remote:'.length)}` : a)),
  ];
  return run('scp', args, { password: o.password, cwd: o.cwd });
}

/** An interactive OpenSSH sftp session, held open by its standard input, that reports how it ended. */
export function holdSftp(port: number, user: string, password: string, host = '127.0.0.1') {
  const child = spawn(
    'sshpass',
    ['-e', 'sftp', ...commonSshOptions({ port, user, password }), '-P', String(port), `${user}@${host}`],
    { env: { ...process.env, SSHPASS: password }, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.resume();
  // A test nudges a session it ended with a command; sftp may have left already (EPIPE is then no error).
  child.stdin?.on('error', () => {});
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stderr })),
  );
  return { child, exited };
}
