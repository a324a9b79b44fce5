// `ferry migrate [--status]`: apply the store's pending schema migrations (forward only), or list applied and pending.
import type { Command } from 'commander';
import { requireInitialisedDataDir } from '../data-dir.js';
import {
  assertSchemaKnown,
  type MigrationEntry,
  type SchemaStatus,
  schemaStatusOfFile,
} from '../store/sqlite/schema-version.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { configFromOptions, type DataDirOption, STORE_OPTION_HELP } from './common.js';
import { commandDescription } from './descriptions.js';

interface MigrateFlags extends DataDirOption {
  status?: boolean;
  json?: boolean;
}

function statusLines(file: string, status: SchemaStatus): string[] {
  const row = (state: string, m: MigrationEntry) =>
    `${state.padEnd(8)} ${String(m.version).padStart(4)}  ${m.name.padEnd(24)} ${m.appliedAt ?? ''}`.trimEnd();
  return [
    `${file}: schema version ${status.databaseVersion}; this Ferry knows up to ${status.codeVersion}`,
    ...status.applied.map((m) => row(status.unknown.includes(m) ? 'NEWER' : 'applied', m)),
    ...status.pending.map((m) => row('pending', m)),
  ];
}

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(commandDescription('migrate'))
    .option('--status', 'list applied and pending migrations with their versions; change nothing')
    .option('--json', 'with --status: print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
    .addHelpText(
      'after',
      `
Migrations are numbered (0001_users, 0002_keys, ...) and only ever applied forwards; a database
that a newer Ferry migrated is refused. Take a backup first (ferry backup --to FILE).

Serving and every other command also apply pending migrations when they open the store. On PostgreSQL
(--store postgres://...) the database must exist; nodes starting together migrate it once (an advisory lock).

Example:
  ferry migrate --status --data-dir /var/lib/ferry`,
    )
    .action(async (flags: MigrateFlags) => {
      const config = configFromOptions(flags);
      if (config.store.driver === 'postgres') return migratePostgres(config.store.url.reveal(), flags);
      // Like every command but serve and init: a data dir without a store is a mistake, never a new store.
      requireInitialisedDataDir(config.dataDir, config.store.path);
      const file = config.store.path;
      const before = await schemaStatusOfFile(file);
      if (flags.status) return printStatus(file, before, flags);
      assertSchemaKnown(file, before);
      // Opening the store applies what is pending, in one place for `migrate`, `serve` and every other command.
      const store = await openSqliteStore(file);
      await store.close();
      reportApplied(file, before);
    });
}

function printStatus(where: string, status: SchemaStatus, flags: MigrateFlags): void {
  if (flags.json) process.stdout.write(`${JSON.stringify({ database: where, ...status }, null, 2)}\n`);
  else process.stdout.write(`${statusLines(where, status).join('\n')}\n`);
  assertSchemaKnown(where, status);
}

function reportApplied(where: string, before: SchemaStatus): void {
  const applied = before.pending.map((m) => m.name);
  process.stdout.write(
    applied.length === 0
      ? `${where}: up to date at schema version ${before.databaseVersion}\n`
      : `${where}: applied ${applied.join(', ')}; schema version ${before.codeVersion}\n`,
  );
}

/** The same on a PostgreSQL store: read the status through a read-only connection, migrate by opening it. */
async function migratePostgres(url: string, flags: MigrateFlags): Promise<void> {
  const { postgresSchemaStatus, openPostgresStore } = await import('../store/postgres/postgres-store.js');
  const { redactUrl } = await import('../store/postgres/errors.js');
  const where = redactUrl(url);
  const before = await postgresSchemaStatus(url);
  if (flags.status) return printStatus(where, before, flags);
  assertSchemaKnown(where, before);
  const store = await openPostgresStore(url);
  await store.close();
  reportApplied(where, before);
}
