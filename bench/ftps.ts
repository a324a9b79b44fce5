// FTPS upload and download of one large file: Ferry's FTPS listener against Debian's vsftpd (explicit FTPS,
// require_ssl_reuse) on loopback, the same curl client for both, runs alternating between the two servers.
// The OpenSSH column of these rows is vsftpd.
import { execFile, spawn } from 'node:child_process';
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startVsftpd, VSFTPD } from '../test/helpers/vsftpd.js';
import type { Cleanup } from './cleanup.js';
import { sha256File } from './files.js';
import { treeCpuMs } from './proc-stats.js';
import { type ProtocolRowsOptions, sourceFile, throughputRows } from './protocol-rows.js';
import type { Measurement } from './scenarios.js';
import { type BenchLayout, freePort, startFerry } from './servers.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
const PASSWORD = 'ftps-bench-password';

/** vsftpd and curl are there (the scenario is skipped otherwise; this script installs nothing). */
export async function ftpsBenchTools(): Promise<boolean> {
  try {
    await access(VSFTPD);
    await execFileAsync('curl', ['--version']);
    return true;
  } catch {
    return false;
  }
}

interface FtpsTarget {
  readonly column: 'ferry' | 'openssh';
  readonly name: string;
  readonly pid: number;
  /** ftp://user:password@127.0.0.1:port/dir */
  readonly url: string;
}

/** One curl transfer; its wall time in ms, from curl's own timer (the process start is not the transfer). */
async function curl(args: readonly string[]): Promise<number> {
  const { stdout } = await execFileAsync(
    'curl',
    ['-sS', '--ssl-reqd', '-k', '--ftp-pasv', '-w', '%{time_total}', ...args],
    { maxBuffer: 1024 * 1024 },
  );
  return Number(stdout.trim()) * 1000;
}

/** The TLS version and cipher curl negotiates with a server (shown in the row label: both must match). */
async function negotiated(url: string): Promise<string> {
  const child = spawn('curl', ['-v', '-sS', '--ssl-reqd', '-k', '--list-only', `${url}/`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  child.stderr.on('data', (d: Buffer) => {
    text += d.toString();
  });
  await new Promise((resolve) => child.once('exit', resolve));
  return /SSL connection using (\S+ \/ \S+)/.exec(text)?.[1] ?? 'unknown';
}

/** A Ferry of its own (data dir and home under `<root>/ftps`) with FTPS on, and a password user for curl. */
async function startFerryFtps(repo: string, layout: BenchLayout, cleanup: Cleanup, workers: number) {
  const root = join(layout.root, 'ftps');
  const ferryHome = join(root, 'home');
  const logDir = join(root, 'logs');
  await mkdir(ferryHome, { recursive: true });
  await mkdir(logDir, { recursive: true });
  const port = await freePort();
  const ferry = await startFerry(
    repo,
    { ...layout, root, ferryHome, sharedDir: join(ferryHome, 'many'), logDir },
    cleanup,
    { workers, env: { FERRY_FTPS_PORT: String(port) } },
  );
  const child = spawn(
    process.execPath,
    [
      'bin/ferry.js',
      'users',
      'add',
      'ftps',
      '--password-stdin',
      '--home',
      ferryHome,
      '--data-dir',
      join(root, 'ferry-data'),
    ],
    { cwd: repo, stdio: ['pipe', 'ignore', 'inherit'] },
  );
  child.stdin.end(`${PASSWORD}\n`);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error('ftps bench: ferry users add failed');
  return { ferry, port, home: ferryHome };
}

export async function ftpsTransfers(options: {
  readonly repo: string;
  readonly layout: BenchLayout;
  readonly cleanup: Cleanup;
  readonly workers: number;
  readonly source: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly clientDir: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { source, log, cleanup } = options;
  const { ferry, port, home } = await startFerryFtps(options.repo, options.layout, cleanup, options.workers);
  const vsftpd = await startVsftpd({ baseDir: options.layout.root });
  cleanup.task(() => vsftpd.close());
  const targets: readonly FtpsTarget[] = [
    { column: 'ferry', name: 'ferry', pid: ferry.pid, url: `ftp://ftps:${PASSWORD}@127.0.0.1:${port}` },
    {
      column: 'openssh',
      name: 'vsftpd',
      pid: vsftpd.pid,
      url: `ftp://anonymous:bench@127.0.0.1:${vsftpd.port}/pub`,
    },
  ];
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const gib = source.bytes / (1024 * MIB);
  const up = { ferry: [] as number[], openssh: [] as number[] };
  const down = { ferry: [] as number[], openssh: [] as number[] };
  const upCpu = { ferry: [] as number[], openssh: [] as number[] };
  const downCpu = { ferry: [] as number[], openssh: [] as number[] };
  const target = join(options.clientDir, 'ftps-down.bin');
  // vsftpd reaps a session's processes (and adds their CPU time to its own) shortly after the client leaves.
  const settled = async (pid: number) => {
    await new Promise((r) => setTimeout(r, 300));
    return treeCpuMs(pid);
  };
  try {
    const tls = await Promise.all(targets.map((t) => negotiated(t.url)));
    log(`  ferry ftps: port ${port} (${tls[0]}); vsftpd: port ${vsftpd.port} (${tls[1]})`);
    for (let run = 0; run < options.runs; run++) {
      for (const t of targets) {
        const cpu = await treeCpuMs(t.pid);
        const ms = await curl(['-T', source.path, `${t.url}/ftps-up.bin`]);
        upCpu[t.column].push(((await settled(t.pid)) - cpu) / 1000 / gib);
        up[t.column].push(source.bytes / MIB / (ms / 1000));
        log(`  ftps upload ${size}, ${t.name}: ${up[t.column].at(-1)!.toFixed(0)} MiB/s`);
      }
    }
    for (const stored of [join(home, 'ftps-up.bin'), join(vsftpd.pub, 'ftps-up.bin')]) {
      if ((await sha256File(stored)) !== source.sha256) throw new Error(`ftps bench: ${stored} differs`);
    }
    for (let run = 0; run < options.runs; run++) {
      for (const t of targets) {
        const cpu = await treeCpuMs(t.pid);
        const ms = await curl(['-o', target, `${t.url}/ftps-up.bin`]);
        downCpu[t.column].push(((await settled(t.pid)) - cpu) / 1000 / gib);
        down[t.column].push(source.bytes / MIB / (ms / 1000));
        if ((await sha256File(target)) !== source.sha256)
          throw new Error(`ftps bench: checksum mismatch after download from ${t.name}`);
        await rm(target);
        log(`  ftps download ${size}, ${t.name}: ${down[t.column].at(-1)!.toFixed(0)} MiB/s`);
      }
    }
  } finally {
    await ferry.stop();
    await vsftpd.close();
  }
  return throughputRows(1, [
    {
      id: 'ftps-upload',
      label: `FTPS upload 1×${size}, curl (OpenSSH column: vsftpd 3.0.3, explicit FTPS)`,
      mibPerS: up,
      cpuPerGib: upCpu,
    },
    {
      id: 'ftps-download',
      label: `FTPS download 1×${size}, curl (OpenSSH column: vsftpd 3.0.3, explicit FTPS)`,
      mibPerS: down,
      cpuPerGib: downCpu,
    },
  ]);
}

/** The FTPS rows: skipped with a line when vsftpd or curl is missing. */
export async function ftpsScenario(options: ProtocolRowsOptions): Promise<Measurement[]> {
  if (!(await ftpsBenchTools())) {
    options.log('FTPS: skipped, vsftpd or curl is not installed (Debian: apt-get install vsftpd curl)');
    return [];
  }
  options.log(`FTPS: ${options.bytes / MIB} MiB up and down, ${options.runs} runs, Ferry vs vsftpd (curl)`);
  return ftpsTransfers({ ...options, source: await sourceFile(options, 'ftps.bin') });
}
