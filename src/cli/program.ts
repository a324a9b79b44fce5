// The `ferry` command tree: which sub-commands exist, how each is loaded, and the root program they hang on.
// This module imports commander and nothing else of Ferry's, so `ferry --version` and `ferry --help` cost a
// Node start and commander (docs/PERFORMANCE.md, start-up); a command's own module loads only when it runs.
import { readFileSync } from 'node:fs';
import { Command, Help } from 'commander';
import { COMMAND_SUMMARIES, type CommandName } from './descriptions.js';

type Register = (program: Command) => void;

/**
 * How each command's module is loaded, in help order (COMMAND_SUMMARIES). A command's module (and what it pulls
 * in: the SSH stack, OpenPGP, the store) is imported only when the command line names it, so `ferry users list`
 * loads no server code. backup.js registers both backup and restore.
 */
export const COMMANDS: Readonly<Record<CommandName, () => Promise<Register>>> = {
  init: async () => (await import('./init.js')).registerInitCommand,
  serve: async () => (await import('./serve.js')).registerServeCommand,
  users: async () => (await import('./users.js')).registerUsersCommand,
  groups: async () => (await import('./groups.js')).registerGroupsCommand,
  folders: async () => (await import('./folders.js')).registerFoldersCommand,
  keys: async () => (await import('./keys.js')).registerKeysCommand,
  defender: async () => (await import('./defender.js')).registerDefenderCommand,
  audit: async () => (await import('./audit.js')).registerAuditCommand,
  partners: async () => (await import('./partners.js')).registerPartnersCommand,
  jobs: async () => (await import('./jobs.js')).registerJobsCommand,
  rules: async () => (await import('./rules.js')).registerRulesCommand,
  sftp: async () => (await import('./sftp.js')).registerSftpCommand,
  apikeys: async () => (await import('./apikeys.js')).registerApikeysCommand,
  admins: async () => (await import('./admins.js')).registerAdminsCommand,
  migrate: async () => (await import('./migrate.js')).registerMigrateCommand,
  quota: async () => (await import('./quota.js')).registerQuotaCommand,
  storage: async () => (await import('./storage.js')).registerStorageCommand,
  store: async () => (await import('./store.js')).registerStoreCommand,
  cluster: async () => (await import('./cluster.js')).registerClusterCommand,
  backup: async () => (await import('./backup.js')).registerBackupCommands,
  restore: async () => (await import('./backup.js')).registerBackupCommands,
};

/** The version in package.json (one small file read; no JSON module import machinery). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return String(pkg.version);
}

/** The root program with no sub-commands yet. */
export function rootProgram(): Command {
  return new Command('ferry')
    .description('Ferry: a managed file transfer (MFT) server built around SFTP')
    .version(packageVersion())
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      "\nExample:\n  ferry init --data-dir /var/lib/ferry && ferry serve --data-dir /var/lib/ferry\n\nRun 'ferry COMMAND --help' for a command's options, their defaults and an example.",
    );
}

/** The command the arguments name, if it is one of ours (`help users` names users). */
export function namedCommand(args: readonly string[]): CommandName | undefined {
  const words = args.filter((arg) => !arg.startsWith('-'));
  const named = words[0] === 'help' ? words[1] : words[0];
  return named !== undefined && Object.hasOwn(COMMANDS, named) ? (named as CommandName) : undefined;
}

/**
 * Adds the sub-commands `args` need to `program`: the named command's real tree; otherwise (a bare
 * --version, root help, a typo) placeholders carrying each command's name and description, which is all
 * the root help and commander's "did you mean" need, and loads nothing.
 */
export async function addCommands(program: Command, args: readonly string[]): Promise<void> {
  const named = namedCommand(args);
  if (named !== undefined) {
    (await COMMANDS[named]())(program);
    (await import('./examples.js')).addExamples(program);
    return;
  }
  const terms = new Map<Command, string>();
  for (const [name, { term, description }] of Object.entries(COMMAND_SUMMARIES)) {
    terms.set(program.command(name).description(description), term);
  }
  program.configureHelp({
    subcommandTerm: (cmd) => terms.get(cmd) ?? new Help().subcommandTerm(cmd),
  });
}

/** Every command's real tree on one program: for tests that walk all of them (loads everything). */
export async function fullProgram(): Promise<Command> {
  const program = rootProgram();
  const loaded = new Set<Register>();
  for (const load of Object.values(COMMANDS)) {
    const register = await load();
    if (!loaded.has(register)) register(program);
    loaded.add(register);
  }
  (await import('./examples.js')).addExamples(program);
  return program;
}
