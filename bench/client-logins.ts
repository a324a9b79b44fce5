// Two rows of issue 22 that are not "same client, two servers" transfers: Ferry's own `ferry sftp` client
// against OpenSSH's `sftp` (both to the same sshd), and password logins per second against each server.
import { execFile } from 'node:child_process';
import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { treeCpuMs } from './proc-stats.js';
import {
  emptyRuns,
  expectHash,
  type Measurement,
  medians,
  pairOrder,
  type ScenarioContext,
  withCpus,
} from './scenarios.js';
import { type BenchServer, PASSWORD_USER, type ServerName } from './servers.js';
import { type ClientProgram, commandMs, HOST_KEY_ALGORITHM, KEX, runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;

/**
 * Ferry's client against OpenSSH's, both talking to OpenSSH's sshd (the row's "ferry" column is the Ferry
 * client, its "openssh" column OpenSSH's `sftp`): put and get of one file, aes128-gcm (the first cipher of
 * Ferry's client policy, and the one OpenSSH's client is told to use), transfer command timed alone.
 */
export async function ferryClient(
  ctx: ScenarioContext,
  repo: string,
  sshd: BenchServer,
  source: { path: string; sha256: string; bytes: number },
): Promise<Measurement[]> {
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const up: Measurement = {
    id: 'client-upload',
    label: `client put 1×${size} to sshd (Ferry's client vs OpenSSH's)`,
    unit: 'MiB/s',
    better: 'higher',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-least', value: 1 },
  };
  const down: Measurement = {
    ...up,
    id: 'client-download',
    label: `client get 1×${size} from sshd (Ferry's client vs OpenSSH's)`,
    runs: emptyRuns(),
  };
  const ferryProgram: ClientProgram = {
    command: process.execPath,
    args: [
      join(repo, 'bin/ferry.js'),
      'sftp',
      '-q',
      '-b',
      '-',
      '-i',
      ctx.client.key,
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-P',
      String(sshd.port),
      `${sshd.user}@127.0.0.1`,
    ],
  };
  const clients: Array<[ServerName, ClientProgram | undefined]> = [
    ['ferry', ferryProgram],
    ['openssh', undefined],
  ];
  const target = join(ctx.clientDir, 'client-down.bin');
  // CPU per GiB of each transfer: the client's (its processes, start-up included) and sshd's for it. Where
  // the time goes differs between the two clients: Ferry's 255 KiB WRITEs cost sshd less than OpenSSH's 32 KiB.
  const upCpu = { client: emptyRuns(), sshd: emptyRuns() };
  const downCpu = { client: emptyRuns(), sshd: emptyRuns() };
  const gib = source.bytes / (1024 * MIB);
  const timed = async (
    name: ServerName,
    batch: string,
    options: Parameters<typeof runBatch>[3],
    into: typeof upCpu,
  ) => {
    const [result, sshdMs, clientMs] = await withCpus(sshd, () => runBatch(sshd, ctx.client, batch, options));
    into.client[name].push(clientMs / 1000 / gib);
    into.sshd[name].push(sshdMs / 1000 / gib);
    return result;
  };
  await copyFile(source.path, join(sshd.localDir, 'client-down.bin'));
  for (let run = 0; run < ctx.runs; run++) {
    // A B B A: the first transfer of an invocation is not always the same client's.
    for (const [name, program] of pairOrder(run, clients[0]!, clients[1]!)) {
      const options = { cipher: 'aes128-gcm@openssh.com', ...(program ? { program } : {}) };
      const put = await timed(
        name,
        `put ${source.path} ${sshd.remoteDir}/client-up.bin\npwd\n`,
        options,
        upCpu,
      );
      await expectHash(join(sshd.localDir, 'client-up.bin'), source.sha256, `${name} client upload`);
      await rm(join(sshd.localDir, 'client-up.bin'));
      up.runs[name].push(source.bytes / MIB / (commandMs(put) / 1000));
      const get = await timed(
        name,
        `get ${sshd.remoteDir}/client-down.bin ${target}\npwd\n`,
        options,
        downCpu,
      );
      await expectHash(target, source.sha256, `${name} client download`);
      await rm(target);
      down.runs[name].push(source.bytes / MIB / (commandMs(get) / 1000));
      ctx.log(
        `  client ${name}: put ${up.runs[name].at(-1)!.toFixed(0)} MiB/s (client CPU ${upCpu.client[name].at(-1)!.toFixed(2)}, sshd ${upCpu.sshd[name].at(-1)!.toFixed(2)} s/GiB), ` +
          `get ${down.runs[name].at(-1)!.toFixed(0)} MiB/s (client CPU ${downCpu.client[name].at(-1)!.toFixed(2)}, sshd ${downCpu.sshd[name].at(-1)!.toFixed(2)} s/GiB)`,
      );
    }
  }
  await rm(join(sshd.localDir, 'client-down.bin'));
  return [
    { ...up, extra: { 'client CPU s/GiB': medians(upCpu.client), 'sshd CPU s/GiB': medians(upCpu.sshd) } },
    {
      ...down,
      extra: { 'client CPU s/GiB': medians(downCpu.client), 'sshd CPU s/GiB': medians(downCpu.sshd) },
    },
  ];
}

/** The password of both servers' password user: random per run, never on a command line. */
export interface PasswordAccounts {
  readonly password: string;
  /** How OpenSSH's account hashes it (from /etc/shadow's prefix), for the row's label. */
  readonly opensshHash: string;
}

/**
 * Creates the password user on both sides: Ferry's through its CLI (argon2id at the documented cost), and a
 * local system account for sshd (crypt(3) as the system hashes it; yescrypt on Debian 12), removed at cleanup.
 * Undefined (row skipped) when not root: only root may add a system account.
 */
export async function passwordAccounts(
  ctx: ScenarioContext,
  o: { repo: string; dataDir: string; ferryHome: string; sshdHome: string },
): Promise<PasswordAccounts | undefined> {
  if (process.getuid?.() !== 0) {
    ctx.log('password logins: skipped, adding the system account sshd checks needs root');
    return undefined;
  }
  const password = `pw-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  const ferry = execFileAsync(
    process.execPath,
    [
      'bin/ferry.js',
      'users',
      'add',
      PASSWORD_USER,
      '--password-stdin',
      '--home',
      o.ferryHome,
      '--data-dir',
      o.dataDir,
    ],
    { cwd: o.repo },
  );
  ferry.child.stdin?.end(`${password}\n`);
  await ferry;
  const exists = await execFileAsync('id', [PASSWORD_USER]).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await execFileAsync('useradd', ['-M', '-N', '-d', o.sshdHome, '-s', '/bin/sh', PASSWORD_USER]);
    ctx.client.cleanup.task(async () => {
      await execFileAsync('userdel', [PASSWORD_USER]);
    });
  }
  const chpasswd = execFileAsync('chpasswd', []);
  chpasswd.child.stdin?.end(`${PASSWORD_USER}:${password}\n`);
  await chpasswd;
  const shadow = (await readFile('/etc/shadow', 'utf8'))
    .split('\n')
    .find((l) => l.startsWith(`${PASSWORD_USER}:`));
  const prefix = shadow?.split(':')[1]?.split('$')[1] ?? '?';
  const names: Record<string, string> = {
    y: 'yescrypt',
    '6': 'SHA-512 crypt',
    '5': 'SHA-256 crypt',
    gy: 'gost-yescrypt',
  };
  return { password, opensshHash: names[prefix] ?? `crypt $${prefix}$` };
}

function passwordProgram(server: BenchServer, password: string): ClientProgram {
  const options = [
    `KexAlgorithms=${KEX}`,
    `HostKeyAlgorithms=${HOST_KEY_ALGORITHM}`,
    'Ciphers=aes128-gcm@openssh.com',
    'StrictHostKeyChecking=no',
    'UserKnownHostsFile=/dev/null',
    'LogLevel=ERROR',
    'PubkeyAuthentication=no',
    'PreferredAuthentications=password',
    'NumberOfPasswordPrompts=1',
    'ControlMaster=no',
    'ControlPath=none',
  ];
  // Not `sftp -b`: batch mode turns password prompts off. Commands come on stdin, which sftp echoes when it
  // is not a terminal; sshpass answers the password prompt on the terminal it gives ssh.
  return {
    command: 'sshpass',
    args: [
      '-e',
      'sftp',
      '-F',
      '/dev/null',
      ...options.flatMap((o) => ['-o', o]),
      '-P',
      String(server.port),
      `${PASSWORD_USER}@127.0.0.1`,
    ],
    env: { SSHPASS: password },
  };
}

/** Password logins per second, sequential and `parallel` at a time, `logins` in all; server CPU per login. */
export async function passwordLogins(
  ctx: ScenarioContext,
  accounts: PasswordAccounts,
  logins: number,
  parallel: number,
): Promise<Measurement[]> {
  const rows: Measurement[] = [];
  for (const width of [1, parallel]) {
    const m: Measurement = {
      id: width === 1 ? 'password-logins' : `password-logins-${width}`,
      label: `${logins} password logins, ${width === 1 ? 'sequential' : `${width} at a time`} (argon2id vs ${accounts.opensshHash})`,
      unit: 'logins/s',
      better: 'higher',
      runs: emptyRuns(),
    };
    const cpu = emptyRuns();
    for (let run = 0; run < ctx.runs; run++) {
      for (const server of ctx.servers) {
        const program = passwordProgram(server, accounts.password);
        let next = 0;
        let retried = 0;
        // A login refused under a burst (sshpass missing a prompt on a loaded machine) is tried once more and
        // counted in the log; a second refusal stops the benchmark.
        const login = async (attempt: number): Promise<void> => {
          try {
            const result = await runBatch(server, ctx.client, 'pwd\n', {
              program,
              countLines: /^Remote working directory/,
              timeoutMs: 60_000,
            });
            if (result.counted !== 1)
              throw new Error(`password login to ${server.name} did not reach the sftp prompt`);
          } catch (err) {
            if (attempt > 1) throw err;
            retried++;
            await login(attempt + 1);
          }
        };
        const lane = async () => {
          while (next < logins) {
            next++;
            await login(1);
          }
        };
        const cpuBefore = await treeCpuMs(server.pid);
        const started = performance.now();
        await Promise.all([...Array(width)].map(lane));
        const seconds = (performance.now() - started) / 1000;
        cpu[server.name].push(((await treeCpuMs(server.pid)) - cpuBefore) / logins);
        m.runs[server.name].push(logins / seconds);
        ctx.log(
          `  ${m.label} ${server.name}: ${m.runs[server.name].at(-1)!.toFixed(1)} logins/s` +
            (retried > 0 ? ` (${retried} refused once and retried)` : ''),
        );
      }
    }
    rows.push({
      ...m,
      extra: { 'server CPU ms/login': medians(cpu) },
    });
  }
  return rows;
}
