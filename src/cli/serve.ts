// `ferry serve`: start the SSH/SFTP server on the embedded store, first-run setup included.
import type { Command } from 'commander';
import { generatePassword, warmPasswordVerifier } from '../auth/password.js';
import { addUser } from '../auth/user-admin.js';
import { CONFIG_DESCRIPTIONS, envNameOf, type FerryConfig } from '../config/schema.js';
import { AppContext } from '../context.js';
import { describeHostKey, ensureHostKeys } from '../keys/host-keys.js';
import { loggers, rootLogger } from '../logger.js';
import { startSshServer } from '../ssh/server.js';
import { Secret } from '../util/secret.js';
import { configFromOptions } from './common.js';

export interface ServeFlags {
  dataDir?: string;
  config?: string;
  listen?: string;
  sftpPort?: string;
  algorithms?: string;
}

/** Creates the `admin` account on a store without users and returns its one-time password. */
async function ensureAdmin(ctx: AppContext): Promise<Secret<string> | undefined> {
  if ((await ctx.store.users.list()).length > 0) return undefined;
  const password = new Secret(generatePassword());
  await addUser(ctx.store.users, { name: 'admin', password });
  return password;
}

export interface RunningFerry {
  readonly port: number;
  readonly config: FerryConfig;
  readonly context: AppContext;
  stop(): Promise<void>;
}

/** Starts everything `serve` runs; the caller owns shutdown. `out` receives the human-readable start-up lines. */
export async function startFerry(config: FerryConfig, out: (line: string) => void): Promise<RunningFerry> {
  rootLogger.level = config.logLevel;
  const ctx = await AppContext.create(config);
  try {
    const hostKeys = ensureHostKeys(ctx.paths.hostKeys);
    for (const key of hostKeys) {
      out(`host key ${key.generated ? 'generated' : 'loaded'}: ${describeHostKey(key)}`);
    }
    const adminPassword = await ensureAdmin(ctx);
    if (adminPassword) {
      out(`created user 'admin' with one-time password: ${adminPassword.reveal()}`);
      out('(shown only now; change it with: ferry users passwd admin --password-stdin)');
    }
    await warmPasswordVerifier();
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
    });
    out(`SFTP listening on ${config.listen}:${ssh.port} (data dir ${config.dataDir})`);
    return {
      port: ssh.port,
      config,
      context: ctx,
      stop: async () => {
        await ssh.close();
        await ctx.dispose();
      },
    };
  } catch (err) {
    await ctx.dispose();
    throw err;
  }
}

export function registerServeCommand(program: Command): void {
  const keys = ['listen', 'sftpPort', 'algorithms', 'dataDir'] as const;
  program
    .command('serve')
    .description('run the SFTP server (SQLite store and local disk in the data dir)')
    .option('--data-dir <dir>', `${CONFIG_DESCRIPTIONS.dataDir} [${envNameOf('dataDir')}]`)
    .option('--listen <addr>', `${CONFIG_DESCRIPTIONS.listen} [${envNameOf('listen')}]`)
    .option('--sftp-port <port>', `${CONFIG_DESCRIPTIONS.sftpPort} [${envNameOf('sftpPort')}]`)
    .option('--algorithms <profile>', `${CONFIG_DESCRIPTIONS.algorithms} [${envNameOf('algorithms')}]`)
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
      const running = await startFerry(config, (line) => process.stdout.write(`${line}\n`));
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
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
