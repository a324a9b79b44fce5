// Drives OpenSSH's `sftp -b` against a bench server with identical options for both servers, and times it.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Cleanup } from './cleanup.js';
import type { BenchServer } from './servers.js';

export const DEFAULT_CIPHER = 'aes128-gcm@openssh.com';
/** Fixed so both servers do the same key exchange work (OpenSSH would otherwise pick sntrup761, which ssh2 lacks). */
export const KEX = 'curve25519-sha256';
export const HOST_KEY_ALGORITHM = 'ssh-ed25519';

export interface ClientContext {
  readonly key: string;
  readonly cleanup: Cleanup;
}

export function sftpArgs(server: BenchServer, ctx: ClientContext, cipher: string): string[] {
  const options = [
    `Ciphers=${cipher}`,
    `KexAlgorithms=${KEX}`,
    `HostKeyAlgorithms=${HOST_KEY_ALGORITHM}`,
    'StrictHostKeyChecking=no',
    'UserKnownHostsFile=/dev/null',
    'LogLevel=ERROR',
    'IdentityAgent=none',
    'IdentitiesOnly=yes',
    'PreferredAuthentications=publickey',
    'BatchMode=yes',
    'Compression=no',
    'ControlMaster=no',
    'ControlPath=none',
  ];
  return [
    '-F',
    '/dev/null',
    ...options.flatMap((o) => ['-o', o]),
    '-i',
    ctx.key,
    '-P',
    String(server.port),
    '-b',
    '-',
    `${server.user}@127.0.0.1`,
  ];
}

export interface BatchResult {
  /** From spawn to exit: login, the batch, and logout. */
  readonly ms: number;
  /**
   * performance.now() when sftp echoed each batch command ("sftp> put ..."), i.e. when it started it; the
   * echo of the next command marks the end of the previous one, so `put x y` + `pwd` times the transfer alone.
   */
  readonly marks: number[];
  /** Output lines that match `countLines`, when given. */
  readonly counted: number;
}

/** Milliseconds between the start of batch command `index` and the start of the next one. */
export function commandMs(result: BatchResult, index = 0): number {
  const start = result.marks[index];
  const end = result.marks[index + 1];
  if (start === undefined || end === undefined) throw new Error('sftp did not echo the batch commands');
  return end - start;
}

/** Another client than OpenSSH's `sftp -b -` (Ferry's own, or sftp under sshpass): it must echo `sftp> ` lines too. */
export interface ClientProgram {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Record<string, string>;
}

/** Runs one `sftp -b -` session with `batch` on stdin; rejects unless sftp exits 0. */
export function runBatch(
  server: BenchServer,
  ctx: ClientContext,
  batch: string,
  o: { cipher?: string; countLines?: RegExp; timeoutMs?: number; program?: ClientProgram } = {},
): Promise<BatchResult> {
  const started = process.hrtime.bigint();
  const program = o.program ?? { command: 'sftp', args: sftpArgs(server, ctx, o.cipher ?? DEFAULT_CIPHER) };
  const child = spawn(program.command, program.args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(program.env ? { env: { ...process.env, ...program.env } } : {}),
  });
  ctx.cleanup.process(child);
  let counted = 0;
  const marks: number[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const now = performance.now();
    const lines = (partial + chunk.toString('latin1')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('sftp> ')) marks.push(now);
      else if (o.countLines?.test(line)) counted++;
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString();
  });
  child.stdin.on('error', () => {});
  child.stdin.end(batch);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 600_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (partial.startsWith('sftp> ')) marks.push(performance.now());
      else if (o.countLines && partial && o.countLines.test(partial)) counted++;
      if (code === 0) resolve({ ms, marks, counted });
      else
        reject(
          new Error(`${program.command} to ${server.name} failed (${code ?? signal}): ${stderr.trim()}`),
        );
    });
  });
}

/** An sftp session that connected, answered one `pwd`, and now sits idle until closed. */
export interface IdleSession {
  close(): Promise<void>;
}

export function openIdleSession(
  server: BenchServer,
  ctx: ClientContext,
  timeoutMs = 60_000,
): Promise<IdleSession> {
  const child: ChildProcessWithoutNullStreams = spawn('sftp', sftpArgs(server, ctx, DEFAULT_CIPHER), {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  ctx.cleanup.process(child);
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString();
  });
  const close = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`idle session to ${server.name} did not answer pwd in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (seen.length > 10_000) return;
      seen += chunk.toString();
      if (seen.includes('Remote working directory')) {
        clearTimeout(timer);
        resolve({ close });
      }
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`idle session to ${server.name} ended (${code}): ${stderr.trim()}`));
    });
    child.stdin.write('pwd\n');
  });
}

/**
 * An `sftp -b -` session that has logged in and answered a first `pwd`, holding until `run` sends the rest of
 * its batch: many sessions can be logged in first and then released together, so a measurement of their
 * transfers contains neither logins nor the benchmark's own spawning of hundreds of clients.
 */
export interface HeldSession {
  /** The `sftp` process (its `ssh` is its child). */
  readonly pid: number;
  /** Sends `batch` and ends the session's input; resolves with the echo marks of those commands once sftp exits 0. */
  run(batch: string): Promise<BatchResult>;
  close(): Promise<void>;
}

export function openHeldSession(
  server: BenchServer,
  ctx: ClientContext,
  timeoutMs = 120_000,
): Promise<HeldSession> {
  const started = process.hrtime.bigint();
  const child = spawn('sftp', sftpArgs(server, ctx, DEFAULT_CIPHER), { stdio: ['pipe', 'pipe', 'pipe'] });
  ctx.cleanup.process(child);
  child.stdin.on('error', () => {});
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString();
  });
  let ready = false;
  const marks: number[] = [];
  let partial = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sftp to ${server.name} did not log in within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      const now = performance.now();
      const lines = (partial + chunk.toString('latin1')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!ready) {
          if (line.startsWith('Remote working directory')) {
            ready = true;
            clearTimeout(timer);
            resolve({ pid: child.pid!, run, close });
          }
        } else if (line.startsWith('sftp> ')) marks.push(now);
      }
    });
    void exited.then((code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`sftp to ${server.name} ended (${code}) before logging in: ${stderr.trim()}`));
      }
    });
    const run = async (batch: string): Promise<BatchResult> => {
      child.stdin.end(batch);
      const code = await exited;
      if (partial.startsWith('sftp> ')) marks.push(performance.now());
      if (code !== 0) throw new Error(`sftp to ${server.name} failed (${code}): ${stderr.trim()}`);
      return { ms: Number(process.hrtime.bigint() - started) / 1e6, marks, counted: 0 };
    };
    const close = async (): Promise<void> => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    };
    child.stdin.write('pwd\n');
  });
}
