// The `ferry` command line: one sub-command per file in cli/, each loaded only when it runs.
import { Command, CommanderError } from 'commander';
import { describeError, quietOnClosedStdout } from './cli/common.js';
import { checkEnvironment } from './config/load.js';

type Register = (program: Command) => void;

/**
 * Sub-commands in help order. A command's module (and what it pulls in: the SSH stack, OpenPGP, the store)
 * is imported only when the command line names it, so `ferry users list` loads no server code and
 * `ferry --version` almost nothing (see docs/PERFORMANCE.md, start-up).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  init: async () => (await import('./cli/init.js')).registerInitCommand,
  serve: async () => (await import('./cli/serve.js')).registerServeCommand,
  users: async () => (await import('./cli/users.js')).registerUsersCommand,
  keys: async () => (await import('./cli/keys.js')).registerKeysCommand,
  defender: async () => (await import('./cli/defender.js')).registerDefenderCommand,
  audit: async () => (await import('./cli/audit.js')).registerAuditCommand,
  partners: async () => (await import('./cli/partners.js')).registerPartnersCommand,
  jobs: async () => (await import('./cli/jobs.js')).registerJobsCommand,
  sftp: async () => (await import('./cli/sftp.js')).registerSftpCommand,
  apikeys: async () => (await import('./cli/apikeys.js')).registerApikeysCommand,
  admins: async () => (await import('./cli/admins.js')).registerAdminsCommand,
  migrate: async () => (await import('./cli/migrate.js')).registerMigrateCommand,
  // One module registers both: only one of the two keys is loaded unless help asks for all.
  backup: async () => (await import('./cli/backup.js')).registerBackupCommands,
};

/** The one command the arguments name; none for a bare --version; all for help, typos and no command. */
function commandsFor(args: readonly string[]): string[] {
  const named = args.find((arg) => !arg.startsWith('-'));
  if (named === 'restore') return ['backup'];
  if (named !== undefined && Object.hasOwn(COMMANDS, named)) return [named];
  if (named === undefined && args.length > 0 && args.every((arg) => arg === '--version' || arg === '-V')) {
    return [];
  }
  return Object.keys(COMMANDS);
}

const program = new Command('ferry')
  .description('Ferry: a managed file transfer (MFT) server built around SFTP')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

// `ferry users list | head`: output cut short by the reader is not an error.
quietOnClosedStdout();

try {
  checkEnvironment();
  for (const name of commandsFor(process.argv.slice(2))) (await COMMANDS[name]!())(program);
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    const { message, exitCode } = describeError(err);
    process.stderr.write(`ferry: ${message.replaceAll('\n', '; ')}\n`);
    process.exitCode = exitCode;
  }
}
