// Debian's vsftpd on a loopback port, explicit FTPS only (ssl_enable, require_ssl_reuse), with a certificate made by
// openssl: the reference FTPS server for partner jobs and the benchmark. Anonymous login (vsftpd's users are system
// accounts, which a test must not create) with uploads, renames and deletes allowed in `pub/`.
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTlsPair } from './tls-pair.js';

export const VSFTPD = '/usr/sbin/vsftpd';

export interface Vsftpd {
  readonly port: number;
  /** The listener; each session's processes are its children (their CPU time is reaped into it). */
  readonly pid: number;
  /** Where anonymous logins land; `pub/` inside it is writable. */
  readonly root: string;
  readonly pub: string;
  readonly certFile: string;
  /** The certificate's SHA-256 as `AA:BB:...`. */
  readonly fingerprint: string;
  close(): Promise<void>;
}

/** A free loopback port (vsftpd takes no port 0): bound, read, released. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`vsftpd exited (${child.exitCode}): ${await readFile(log, 'utf8').catch(() => '')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('vsftpd did not start listening');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startVsftpd(
  options: { extra?: readonly string[]; baseDir?: string } = {},
): Promise<Vsftpd> {
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'ferry-vsftpd-'));
  const root = join(dir, 'root');
  const pub = join(root, 'pub');
  const empty = join(dir, 'empty');
  await mkdir(pub, { recursive: true });
  await mkdir(empty);
  // vsftpd refuses a writable anonymous root; the upload directory inside it is open to `nobody`.
  await chmod(root, 0o755);
  await chmod(pub, 0o777);
  const { cert, key } = await makeTlsPair(dir);
  const port = await freePort();
  const log = join(dir, 'vsftpd.log');
  const conf = join(dir, 'vsftpd.conf');
  await writeFile(
    conf,
    [
      'listen=YES',
      'listen_ipv6=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'background=NO',
      'anonymous_enable=YES',
      'local_enable=NO',
      'write_enable=YES',
      'anon_upload_enable=YES',
      'anon_mkdir_write_enable=YES',
      'anon_other_write_enable=YES',
      'anon_world_readable_only=NO',
      'anon_umask=022',
      'no_anon_password=NO',
      `anon_root=${root}`,
      'ftp_username=ftp',
      'nopriv_user=nobody',
      `secure_chroot_dir=${empty}`,
      'ssl_enable=YES',
      'allow_anon_ssl=YES',
      'force_anon_logins_ssl=YES',
      'force_anon_data_ssl=YES',
      'require_ssl_reuse=YES',
      'ssl_ciphers=HIGH',
      `rsa_cert_file=${cert}`,
      `rsa_private_key_file=${key}`,
      'pasv_enable=YES',
      'port_enable=NO',
      'seccomp_sandbox=NO',
      'isolate=NO',
      'isolate_network=NO',
      'use_localtime=NO',
      'max_clients=50',
      'xferlog_enable=NO',
      `vsftpd_log_file=${log}`,
      'log_ftp_protocol=NO',
      ...(options.extra ?? []),
      '',
    ].join('\n'),
  );
  const child = spawn(VSFTPD, [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await waitForPort(port, child, log);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(err as Error).message} ${stderr}`);
  }
  const fingerprint = new X509Certificate(await readFile(cert)).fingerprint256;
  return {
    port,
    pid: child.pid!,
    root,
    pub,
    certFile: cert,
    fingerprint,
    close: async () => {
      // Killed by a signal, exitCode stays null: signalCode says it is gone (a second close must not wait).
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
