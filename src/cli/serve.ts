// `ferry serve`: flags, the cluster primary and its workers, process hardening and signals; the server itself is src/server.ts.
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { httpApiLine } from '../api/listen-address.js';
import { CONFIG_SETTINGS, envNameOf, type FerryConfig, nestSettings, SERVE_FLAGS } from '../config/schema.js';
import { FerryError } from '../errors.js';
import { loggers, rootLogger } from '../logger.js';
import type { RunningFerry } from '../server.js';
import { configFromOptions, describeError } from './common.js';
import { commandDescription } from './descriptions.js';
import { HeldSignals } from './held-signals.js';
import { useLogFile } from './log-file.js';
import type { Hardening } from './process-hardening.js';
import { describeSetting, optionName } from './serve-flags.js';
import { collectWhenIdle, describeListenError, serveRelays } from './serve-shared.js';
import { runUntilSignalled, watchParent } from './serve-stop.js';
import { runServeThread, runThreadsMain, serveThreadStart } from './serve-threads.js';
import { workerExecArgv } from './worker-flags.js';
import { isRenewRequest, type RenewRequest, WorkerRenewal } from './worker-renewal.js';

// The server (src/server.ts: the store, the SSH stack) and the process hardening (the native confine addon)
// are imported by the processes that serve, and by the short-lived one that prepares the data dir; the
// primary of `--workers N` only forks and supervises, and holds none of it (docs/PERFORMANCE.md, idle memory).
const serverModule = () => import('../server.js');
/** The primary's run id, handed to its workers so they register as one node (StartOptions.nodeRunId). */
const NODE_RUN_VARIABLE = 'FERRY_NODE_RUN';
const hardeningModule = () => import('./process-hardening.js');

/** The cluster worker's role, in its environment: one that serves, or the one that prepares the data dir first. */
const ROLE_VARIABLE = 'FERRY_WORKER_ROLE';

/** `serve`'s flags by option name (commander camel-cases `--max-file-size` to `maxFileSize`). */
type ServeFlags = Record<string, string | undefined> & { config?: string };

type WorkerMessage =
  /** `hardening`: how the worker is hardened (privileges, Landlock), for the primary's start-up lines. */
  | {
      readonly type: 'listening';
      readonly port: number;
      /** The HTTP API's port (the same in every worker); absent when it did not start. */
      readonly httpPort?: number;
      /** The FTPS start-up lines (listeners, certificate fingerprint), the same in every worker; absent when FTPS is off. */
      readonly ftps?: readonly string[];
      readonly hardening: readonly string[];
      /** The key exchanges on offer (the primary loads no ssh2, whose native binding it must not map). */
      readonly keyExchange: string;
    }
  | { readonly type: 'failed'; readonly message: string };

/**
 * The primary of `--workers N`: does the first-run work once, forks N workers that share the listening
 * socket (node:cluster hands connections out round-robin), restarts a worker that dies, and stops them all.
 */
async function runPrimary(
  config: FerryConfig,
  count: number,
  out: (line: string) => void,
  held: HeldSignals,
): Promise<void> {
  rootLogger.level = config.logLevel;
  cluster.setupPrimary({ execArgv: workerExecArgv() });
  await prepareInChild();
  const nodeRun = randomUUID();
  let stopping = false;
  let announced = false;
  const listening = new Map<number, number>();
  /** Workers a SIGHUP came for before they listened. */
  const reloadOnListening = new Set<number>();
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
    const worker = cluster.fork({ FERRY_WORKER: '1', [NODE_RUN_VARIABLE]: nodeRun });
    worker.on('message', (message: WorkerMessage | RenewRequest) => {
      if (serveRelays(worker, message)) return;
      if (isRenewRequest(message)) {
        renewal.request(message.paths);
        return;
      }
      if (message?.type === 'failed') {
        // A replacement that cannot start leaves the workers it was to replace serving (worker-renewal.ts).
        if (!renewal.owns(worker)) fail(message.message);
        return;
      }
      if (message?.type !== 'listening') return;
      listening.set(worker.id, message.port);
      if (reloadOnListening.delete(worker.id)) worker.process.kill('SIGHUP');
      if (!announced && listening.size === count) {
        announced = true;
        for (const line of message.hardening) out(line);
        out(
          `SFTP listening on ${config.listen}:${message.port} (${count} worker processes, data dir ${config.dataDir})`,
        );
        out(message.keyExchange);
        for (const line of message.ftps ?? []) out(line);
        if (message.httpPort !== undefined) out(httpApiLine(config, message.httpPort));
      }
    });
    return worker;
  };
  const renewal = new WorkerRenewal({
    fork,
    workers: () => Object.values(cluster.workers ?? {}).filter((w) => w !== undefined),
    stopping: () => stopping,
    log: loggers.serve,
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    reloadOnListening.delete(worker.id);
    const renewed = renewal.owns(worker);
    renewal.exited(worker);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    if (!announced) {
      fail(`a worker process exited during start-up (code ${code}, signal ${signal}); see the log above`);
      return;
    }
    // A replaced worker that ended, or a replacement that could not start: the renewal has seen to both.
    if (renewed) return;
    loggers.serve.error({ workerPid: worker.process.pid, code, signal }, 'worker died; starting another');
    fork();
  });
  const forward = (signal: NodeJS.Signals) => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  const stop = (signal: NodeJS.Signals) => {
    // Workers drain on SIGTERM and stop at once on SIGINT, which also ends a drain in progress.
    if (stopping) {
      if (signal === 'SIGINT') forward('SIGINT');
      return;
    }
    stopping = true;
    loggers.serve.info({ signal }, 'stopping workers');
    forward(signal);
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  // A worker gets a reload once it listens: before its `serve` code runs, SIGHUP's default would kill it.
  const reload = () => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker === undefined) continue;
      if (listening.has(worker.id)) worker.process.kill('SIGHUP');
      else reloadOnListening.add(worker.id);
    }
  };
  watchParent(() => stop('SIGTERM'));
  // A stop signal during the preparation ends the primary here, with no worker started.
  held.release({ SIGTERM: () => stop('SIGTERM'), SIGINT: () => stop('SIGINT'), SIGHUP: reload });
  if (stopping) return;
  for (let i = 0; i < count; i++) fork();
}

/**
 * Runs the first-run work (confinement check, host keys, the admin account; the lines it prints) in a
 * short-lived worker, so the primary never loads the store: what a process loaded stays in its memory for
 * good. Resolves when it succeeded; when it failed (it printed why), the primary exits with its code.
 */
function prepareInChild(): Promise<void> {
  return new Promise((resolve) => {
    const child = cluster.fork({ [ROLE_VARIABLE]: 'prepare' });
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else process.exit(code || 1);
    });
  });
}

/** The preparing worker: what `runPrimary` would otherwise do in the primary, then exit. */
async function prepare(config: FerryConfig, out: (line: string) => void): Promise<never> {
  try {
    const { chooseConfinement } = await hardeningModule();
    out(chooseConfinement(config));
    const { AppContext } = await import('../context.js');
    const { prepareDataDir } = await import('../first-run.js');
    const ctx = await AppContext.create(config, 'create');
    try {
      await prepareDataDir(ctx, out);
    } finally {
      await ctx.dispose();
    }
  } catch (err) {
    const { message, exitCode } = describeError(err);
    process.stderr.write(`ferry: ${message}\n`);
    process.exit(exitCode);
  }
  // The IPC channel to the primary would keep this process alive.
  process.exit(0);
}

export function registerServeCommand(program: Command): void {
  const command = program.command('serve').description(commandDescription('serve'));
  // One option per row of SERVE_FLAGS, the table the README's reference agrees with.
  for (const { setting, flag, arg } of SERVE_FLAGS)
    command.option(`${flag} ${arg}`.trim(), `${describeSetting(setting)} [${envNameOf(setting)}]`);
  const flagOf = new Map(SERVE_FLAGS.map((f) => [f.setting, f.flag]));
  command
    .option('--config <file>', 'JSON config file [FERRY_CONFIG]')
    .addHelpText(
      'after',
      `\nEvery setting can also be given in the config file (JSON, same key; store.url as {"store": {"url": ...}}) or as an environment variable:\n${CONFIG_SETTINGS.map(
        (k) =>
          `  ${k.padEnd(30)} ${envNameOf(k).padEnd(40)} ${(flagOf.get(k) ?? '').padEnd(26)} ${describeSetting(k)}`,
      ).join('\n')}\nPrecedence: flag > environment > config file > default.`,
    )
    .action(async (flags: ServeFlags) => {
      const config = configFromOptions(
        { dataDir: flags.dataDir, config: flags.config },
        nestSettings(
          Object.fromEntries(
            SERVE_FLAGS.filter((f) => f.setting !== 'dataDir').map((f) => [
              f.setting,
              flags[optionName(f.flag)],
            ]),
          ),
        ),
      );
      // From here a stop signal waits for the start-up to finish, then stops the server cleanly (held-signals.ts).
      const held = new HeldSignals();
      // Unlike a command, a server outlives a reader of its start-up lines that went away (`serve | head -3`).
      process.stdout.removeAllListeners('error');
      process.stdout.on('error', () => {});
      const out = (line: string) => process.stdout.write(`${line}\n`);
      useLogFile(config);
      if (cluster.isWorker && process.env[ROLE_VARIABLE] === 'prepare') await prepare(config, out);
      const thread = serveThreadStart();
      if (thread) {
        await runServeThread(config, thread, held);
        return;
      }
      const count = config.workers === 0 ? availableParallelism() : config.workers;
      if (count > 1 && cluster.isPrimary) {
        if (config.workerMode === 'threads') await runThreadsMain(config, count, out, held);
        else await runPrimary(config, count, out, held);
        return;
      }
      const { chooseConfinement } = await hardeningModule();
      const { startFerry } = await serverModule();
      const confinement = chooseConfinement(config);
      if (cluster.isWorker) {
        // The primary printed the start-up lines; a worker reports the port it shares and its hardening, or why it failed.
        let running: RunningFerry;
        let hardening: Hardening;
        const ftpsLines: string[] = [];
        try {
          running = await startFerry(
            config,
            (line) => line.startsWith('FTPS') && ftpsLines.push(line),
            'write',
            { nodeRunId: process.env[NODE_RUN_VARIABLE] },
          );
          // Never serve unhardened: a failure here is a failed start.
          hardening = await (await hardeningModule()).hardenServingProcess(running);
        } catch (err) {
          const message: WorkerMessage = { type: 'failed', message: describeListenError(err, config) };
          // Exit once the message is on its way (send is asynchronous).
          if (process.send) process.send(message, () => process.exit(1));
          else process.exit(1);
          return;
        }
        process.send?.({
          type: 'listening',
          port: running.port,
          ...(running.httpPort !== undefined ? { httpPort: running.httpPort } : {}),
          ...(ftpsLines.length > 0 ? { ftps: ftpsLines } : {}),
          hardening: hardening.lines,
          keyExchange: (await import('../ssh-algorithms.js')).keyExchangeLine(config.algorithms),
        } satisfies WorkerMessage);
        // A directory added out of reach: the primary replaces the workers (worker-renewal.ts).
        (await hardeningModule()).watchHardeningCoverage(running, hardening, (paths) =>
          process.send?.({ type: 'renew', paths } satisfies RenewRequest),
        );
        runUntilSignalled(running, held);
        await collectWhenIdle();
        return;
      }
      // A single process: it prints the start-up lines itself.
      out(confinement);
      let running: RunningFerry;
      try {
        running = await startFerry(config, out);
        const hardening = await (await hardeningModule()).hardenServingProcess(running);
        for (const line of hardening.lines) out(line);
        (await hardeningModule()).watchHardeningCoverage(running, hardening, (paths) =>
          loggers.serve.warn(
            { paths },
            "landlock: directories added since the start are out of this process's reach until the server restarts (with --workers 2 or more it replaces its workers by itself)",
          ),
        );
      } catch (err) {
        // Exit now: a half-started (or unhardened) server, a timer or a worker thread must not keep it alive.
        process.stderr.write(`ferry: ${describeListenError(err, config)}\n`);
        process.exit(err instanceof FerryError && err.code === 'ERR_CONFIG' ? 2 : 1);
      }
      runUntilSignalled(running, held);
      // Only with --expose-gc, which a single process gets from whoever starts node (docs/OPERATIONS.md).
      await collectWhenIdle();
    });
}
