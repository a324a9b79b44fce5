// `ferry serve`: start the SSH/SFTP server on the embedded store, first-run setup included.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { systemActor } from '../admin/actor.js';
import { hostKeyAuditSigner } from '../audit/signer.js';
import { generatePassword, warmPasswordVerifier } from '../auth/password.js';
import { CONFIG_DESCRIPTIONS, envNameOf, type FerryConfig } from '../config/schema.js';
import { AppContext } from '../context.js';
import { FerryError } from '../errors.js';
import { describeHostKey, type HostKeyMaterial, presentedHostKeys } from '../key-manager/host-keys.js';
import { loggers, rootLogger } from '../logger.js';
import { Secret } from '../util/secret.js';
import { configFromOptions, describeError } from './common.js';
import { useLogFile } from './log-file.js';
import { applyLandlock, chooseConfinement, dropPrivileges } from './process-hardening.js';

const HOST_KEY_POLL_MS = 10_000;

export interface ServeFlags {
  workers?: string;
  dataDir?: string;
  config?: string;
  listen?: string;
  sftpPort?: string;
  algorithms?: string;
  user?: string;
  maxChannelsPerConnection?: string;
}

/** Creates the `admin` account on a store without users and returns its one-time password. */
async function ensureAdmin(ctx: AppContext): Promise<Secret<string> | undefined> {
  if ((await ctx.store.users.list()).length > 0) return undefined;
  const password = new Secret(generatePassword());
  return (await ctx.admin.users.ensureAdmin(systemActor(), password)) ? password : undefined;
}

/**
 * First-run work that must happen once, before any worker starts: host keys and the admin account, both
 * audited. Prints the fingerprints (and a new admin password) through `out`; returns the pending and active
 * host keys.
 */
export async function prepareDataDir(
  ctx: AppContext,
  out: (line: string) => void,
): Promise<HostKeyMaterial[]> {
  const generated = await ctx.admin.keys.host.ensureDefaults(systemActor());
  const made = new Set(generated.map((k) => k.id));
  const hostKeys = await ctx.hostKeys.liveMaterial();
  for (const key of hostKeys) {
    const how = made.has(key.id)
      ? 'generated'
      : key.state === 'pending'
        ? 'pending (announced only)'
        : 'loaded';
    out(`host key ${how}: ${describeHostKey(key)}`);
  }
  const adminPassword = await ensureAdmin(ctx);
  if (adminPassword) {
    out(`created user 'admin' with one-time password: ${adminPassword.reveal()}`);
    out('(shown only now; change it with: ferry users passwd admin --password-stdin)');
  }
  return hostKeys;
}

/** Promotes the pending host keys whose grace period is over, each recorded in the audit trail. */
async function promoteDueHostKeys(ctx: AppContext, graceDays: number): Promise<void> {
  for (const key of await ctx.admin.keys.host.promoteDue(systemActor(), graceDays)) {
    loggers.serve.info(
      { hostKey: key.id, sha256: key.sha256, graceDays },
      'host key promoted after its grace period',
    );
  }
}

export interface RunningFerry {
  readonly port: number;
  readonly config: FerryConfig;
  readonly context: AppContext;
  /** Re-reads host keys from the store; true when what the server presents changed. */
  reloadHostKeys(): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Starts everything `serve` runs; the caller owns shutdown. `out` receives the human-readable start-up lines.
 * The data dir is created on first run ('create'); a worker of a primary that did so opens it with 'write'.
 */
export async function startFerry(
  config: FerryConfig,
  out: (line: string) => void,
  access: 'create' | 'write' = 'create',
): Promise<RunningFerry> {
  rootLogger.level = config.logLevel;
  const ctx = await AppContext.create(config, access);
  try {
    let hostKeys = await prepareDataDir(ctx, out);
    await promoteDueHostKeys(ctx, config.hostKeyGracePeriod);
    hostKeys = await ctx.hostKeys.liveMaterial();
    // Audit checkpoints are signed with the presented Ed25519 host key, so an auditor can check them
    // against the fingerprint clients already trust.
    const signingKey = presentedHostKeys(hostKeys).find((k) => k.algorithm === 'ssh-ed25519');
    if (signingKey) ctx.audit.useSigner(hostKeyAuditSigner(signingKey));
    ctx.audit.startRetention(config.auditRetentionDays);
    await warmPasswordVerifier();
    // Imported here: the primary of --workers N serves nothing, and keeps its memory small without them.
    const { startSshServer } = await import('../ssh/server.js');
    const ssh = await startSshServer({
      listen: config.listen,
      port: config.sftpPort,
      algorithms: config.algorithms,
      hostKeys,
      loginGraceTime: config.loginGraceTime,
      maxAuthTries: config.maxAuthTries,
      homesDir: ctx.paths.homes,
      users: ctx.store.users,
      fileSessions: ctx.fileSessions,
      events: ctx.events,
      logger: loggers.ssh,
      defender: ctx.defender,
      budgets: ctx.budgets,
      limits: {
        maxConnections: config.maxConnections,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        maxUnauthenticatedPerAddress: config.maxUnauthenticatedPerAddress,
        maxSessionsPerUser: config.maxSessionsPerUser,
        maxChannelsPerConnection: config.maxChannelsPerConnection,
        idleTimeout: config.idleTimeout,
      },
      sftp: {
        maxInFlight: config.maxInFlight,
        maxOpenHandles: config.maxOpenHandles,
        maxPacketLength: config.maxPacketSize,
      },
      accounts: ctx.store.accounts,
      lockout: {
        threshold: config.lockoutThreshold,
        windowSeconds: config.lockoutWindow,
        durationSeconds: config.lockoutDuration,
      },
      totp: ctx.totp,
    });
    out(`SFTP listening on ${config.listen}:${ssh.port} (data dir ${config.dataDir})`);
    // Scheduled transfer jobs. Every worker runs a scheduler; the store's per-job run lock lets only one run a job.
    const { TransferScheduler } = await import('../transfers/scheduler.js');
    const scheduler = new TransferScheduler({
      jobs: ctx.transfers.jobs,
      log: loggers.transfers,
    });
    await scheduler.start();

    /**
     * Promotes keys whose grace period is over, then re-reads the host keys from the store; a change (CLI
     * generate/import/promote/retire) is announced and presented to new connections.
     */
    const reloadHostKeys = async (): Promise<boolean> => {
      await promoteDueHostKeys(ctx, config.hostKeyGracePeriod);
      const fresh = await ctx.hostKeys.liveMaterial();
      const fingerprints = (keys: typeof fresh) =>
        keys.map((k) => `${k.sha256}:${k.state}:${k.activatedAt?.getTime() ?? ''}`).join(',');
      if (fingerprints(fresh) === fingerprints(hostKeys)) return false;
      ssh.setHostKeys(fresh);
      hostKeys = fresh;
      // After a rotation, checkpoints are signed with the new key (verify trusts retired keys too).
      // The presented key, never a pending one: auditors check checkpoints against what clients trust.
      const auditKey = presentedHostKeys(fresh).find((k) => k.algorithm === 'ssh-ed25519');
      if (!auditKey)
        loggers.serve.warn('no presented Ed25519 host key: audit checkpoints are not signed any more');
      ctx.audit.useSigner(auditKey ? hostKeyAuditSigner(auditKey) : undefined);
      return true;
    };
    // Keys are shared through the store (several workers, later several nodes), so poll it as well as obey SIGHUP.
    const poll = setInterval(() => {
      reloadHostKeys().catch((err: unknown) => loggers.serve.error({ err }, 'host key reload failed'));
    }, HOST_KEY_POLL_MS);
    poll.unref();
    return {
      port: ssh.port,
      config,
      context: ctx,
      reloadHostKeys,
      stop: async () => {
        clearInterval(poll);
        await scheduler.stop();
        await ssh.close();
        await ctx.dispose();
      },
    };
  } catch (err) {
    await ctx.dispose();
    throw err;
  }
}

const PARENT_POLL_MS = 1000;

/**
 * Calls `onGone` when the process that started this one exits: `npm start` does not pass SIGTERM on, so a
 * server under a killed npm would otherwise run on as an orphan. A cluster worker hears its primary's
 * IPC channel close; any other process sees its parent id change (it was re-parented).
 */
export function watchParent(onGone: () => void): void {
  if (cluster.isWorker) {
    process.once('disconnect', onGone);
    return;
  }
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone();
    }
  }, PARENT_POLL_MS);
  timer.unref();
}

/** A listener that cannot start, as one line with the fix (EADDRINUSE, EACCES on a low port, a bad address). */
export function describeListenError(err: unknown, config: FerryConfig): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `${config.listen}:${config.sftpPort}`;
  if (code === 'EADDRINUSE')
    return `cannot listen on ${where}: the port is in use (another server, or a Ferry still running?); stop it or choose another --sftp-port`;
  if (code === 'EACCES')
    return `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose another --sftp-port`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
    return `cannot listen on ${where}: no such local address; check --listen`;
  return describeError(err).message;
}

/** Runs until SIGINT/SIGTERM or until the parent process goes; SIGHUP re-reads host keys. Used by a single process and by each worker. */
function runUntilSignalled(running: RunningFerry): void {
  const shutdown = new AbortController();
  const stop = (signal: string) => {
    if (shutdown.signal.aborted) return;
    shutdown.abort();
    loggers.serve.info({ signal }, 'shutting down');
    running.stop().then(
      () => {
        loggers.serve.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        loggers.serve.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    running.reloadHostKeys().then(
      (changed) => loggers.serve.info({ changed }, 'SIGHUP: host keys re-read'),
      (err: unknown) => loggers.serve.error({ err }, 'SIGHUP: host key reload failed'),
    );
  });
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  watchParent(() => stop('parent exited'));
}

type WorkerMessage =
  /** `hardening`: how the worker is hardened (privileges, Landlock), for the primary's start-up lines. */
  | { readonly type: 'listening'; readonly port: number; readonly hardening: readonly string[] }
  | { readonly type: 'failed'; readonly message: string };

/**
 * After the ports are bound and the store is open: drop root, then Landlock (which cannot be undone, so it
 * comes last). Returns the lines that say what is in force.
 */
async function hardenServingProcess(running: RunningFerry): Promise<string[]> {
  const homes = (await running.context.store.users.list()).flatMap((u) => (u.homeDir ? [u.homeDir] : []));
  return [dropPrivileges(running.config), applyLandlock(running.config, homes)];
}

/**
 * Old-generation size (MB) below which V8 does not start a full GC in a worker. V8 otherwise sets the limit to
 * ~1.5× the live heap after each mark-compact (~35 MB for Ferry's ~23 MB), and the buffers a transfer holds in
 * flight count against it as external memory: once a worker had run one mark-compact (after uploads, say),
 * every download ran back-to-back mark-compacts (--trace-incremental-marking: "allocation limit", 23/35 MB;
 * ~45 per GiB, twice the CPU, a third less throughput). The floor costs memory only while garbage exists.
 */
const WORKER_OLD_SPACE_FLOOR_MB = 256;

/** True when this is the compiled dist/ (bin/ferry.js), false when tsx runs the TypeScript sources. */
const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/**
 * The primary's node flags without tsx when running compiled (a worker that loaded it would spend ~60 MB and an
 * esbuild process on nothing), plus the old-generation floor unless the operator set heap sizes already.
 */
export function workerExecArgv(
  execArgv: readonly string[] = process.execArgv,
  compiled = RUNNING_COMPILED,
): string[] {
  const flags: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]!;
    if (
      compiled &&
      (flag === '--import' || flag === '--loader') &&
      /^tsx(\/|$)/.test(execArgv[i + 1] ?? '')
    ) {
      i++;
      continue;
    }
    if (compiled && /^--(import|loader|experimental-loader)=tsx(\/|$)/.test(flag)) continue;
    flags.push(flag);
  }
  const given = [...flags, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((flag) => /^--(initial|max)-old-space-size/.test(flag))) return flags;
  return [...flags, `--initial-old-space-size=${WORKER_OLD_SPACE_FLOOR_MB}`];
}

/**
 * The primary of `--workers N`: does the first-run work once, forks N workers that share the listening
 * socket (node:cluster hands connections out round-robin), restarts a worker that dies, and stops them all.
 */
async function runPrimary(config: FerryConfig, count: number, out: (line: string) => void): Promise<void> {
  rootLogger.level = config.logLevel;
  const ctx = await AppContext.create(config, 'create');
  try {
    await prepareDataDir(ctx, out);
  } finally {
    await ctx.dispose();
  }
  let stopping = false;
  let announced = false;
  const listening = new Map<number, number>();
  cluster.setupPrimary({ execArgv: workerExecArgv() });
  /** A worker could not start (the port is taken, say): every worker stops and the primary exits with one line. */
  const fail = (message: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`ferry: ${message}\n`);
    process.exitCode = 1;
    forward('SIGTERM');
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
  };
  const fork = () => {
    const worker = cluster.fork({ FERRY_WORKER: '1' });
    worker.on('message', (message: WorkerMessage) => {
      if (message?.type === 'failed') {
        fail(message.message);
        return;
      }
      if (message?.type !== 'listening') return;
      listening.set(worker.id, message.port);
      if (!announced && listening.size === count) {
        announced = true;
        for (const line of message.hardening) out(line);
        out(
          `SFTP listening on ${config.listen}:${message.port} (${count} worker processes, data dir ${config.dataDir})`,
        );
      }
    });
  };
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!announced) {
      fail(`a worker process exited during start-up (code ${code}, signal ${signal}); see the log above`);
      return;
    }
    loggers.serve.error({ workerPid: worker.process.pid, code, signal }, 'worker died; starting another');
    fork();
  });
  for (let i = 0; i < count; i++) fork();
  const forward = (signal: NodeJS.Signals) => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    loggers.serve.info({ signal }, 'stopping workers');
    forward('SIGTERM');
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on('SIGHUP', () => forward('SIGHUP'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  watchParent(() => stop('SIGTERM'));
}

export function registerServeCommand(program: Command): void {
  const keys = [
    'listen',
    'sftpPort',
    'algorithms',
    'workers',
    'maxChannelsPerConnection',
    'dataDir',
    'user',
  ] as const;
  program
    .command('serve')
    .description('run the SFTP server (SQLite store and local disk in the data dir)')
    .option('--data-dir <dir>', `${CONFIG_DESCRIPTIONS.dataDir} [${envNameOf('dataDir')}]`)
    .option('--listen <addr>', `${CONFIG_DESCRIPTIONS.listen} [${envNameOf('listen')}]`)
    .option('--sftp-port <port>', `${CONFIG_DESCRIPTIONS.sftpPort} [${envNameOf('sftpPort')}]`)
    .option('--algorithms <profile>', `${CONFIG_DESCRIPTIONS.algorithms} [${envNameOf('algorithms')}]`)
    .option('--workers <n>', `${CONFIG_DESCRIPTIONS.workers} [${envNameOf('workers')}]`)
    .option('--user <name>', `${CONFIG_DESCRIPTIONS.user} [${envNameOf('user')}]`)
    .option(
      '--max-channels-per-connection <n>',
      `${CONFIG_DESCRIPTIONS.maxChannelsPerConnection} [${envNameOf('maxChannelsPerConnection')}]`,
    )
    .option('--config <file>', 'JSON config file [FERRY_CONFIG]')
    .addHelpText(
      'after',
      `\nEvery setting can also be given in the config file (JSON, same key) or as an environment variable:\n${Object.entries(
        CONFIG_DESCRIPTIONS,
      )
        .map(([k, d]) => `  ${k.padEnd(16)} ${envNameOf(k).padEnd(24)} ${d}`)
        .join('\n')}\nPrecedence: flag > environment > config file > default.`,
    )
    .action(async (flags: ServeFlags) => {
      const config = configFromOptions(
        { dataDir: flags.dataDir, config: flags.config },
        Object.fromEntries(keys.filter((k) => k !== 'dataDir').map((k) => [k, flags[k]])),
      );
      // Unlike a command, a server outlives a reader of its start-up lines that went away (`serve | head -3`).
      process.stdout.removeAllListeners('error');
      process.stdout.on('error', () => {});
      const out = (line: string) => process.stdout.write(`${line}\n`);
      useLogFile(config);
      const confinement = chooseConfinement(config);
      if (cluster.isWorker) {
        // The primary printed the start-up lines; a worker reports the port it shares and its hardening, or why it failed.
        let running: RunningFerry;
        try {
          running = await startFerry(config, () => {}, 'write');
        } catch (err) {
          const message: WorkerMessage = { type: 'failed', message: describeListenError(err, config) };
          // Exit once the message is on its way (send is asynchronous).
          if (process.send) process.send(message, () => process.exit(1));
          else process.exit(1);
          return;
        }
        const hardening = await hardenServingProcess(running);
        process.send?.({ type: 'listening', port: running.port, hardening } satisfies WorkerMessage);
        runUntilSignalled(running);
        return;
      }
      out(confinement);
      const count = config.workers === 0 ? availableParallelism() : config.workers;
      if (count <= 1) {
        let running: RunningFerry;
        try {
          running = await startFerry(config, out);
        } catch (err) {
          // Exit now: a half-started server (a timer, a worker thread) must not keep the process alive.
          process.stderr.write(`ferry: ${describeListenError(err, config)}\n`);
          process.exit(err instanceof FerryError && err.code === 'ERR_CONFIG' ? 2 : 1);
        }
        for (const line of await hardenServingProcess(running)) out(line);
        runUntilSignalled(running);
        return;
      }
      await runPrimary(config, count, out);
    });
}
