// `ferry init`: create a data dir with its store, master key, host keys and admin account, without serving.

import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { AppContext } from '../context.js';
import { dataPaths, isInitialisedDataDir } from '../data-dir.js';
import { prepareDataDir } from '../first-run.js';
import {
  CliError,
  configFromOptions,
  type DataDirOption,
  readSecretFromStdin,
  STORE_OPTION_HELP,
} from './common.js';
import { commandDescription } from './descriptions.js';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(commandDescription('init'))
    .option('--data-dir <dir>', 'data directory to create (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
    .option(
      '--admin-password-stdin',
      "the password of the REST API's first administrator account, 'admin' (role admin), from standard input (otherwise one is generated and printed once)",
    )
    .action(async (o: DataDirOption & { adminPasswordStdin?: boolean }) => {
      const config = configFromOptions(o);
      // With a PostgreSQL store the data dir holds the master key (and the audit anchors), the database the rest.
      const initialised =
        config.store.driver === 'sqlite'
          ? isInitialisedDataDir(config.dataDir, config.store.path)
          : existsSync(dataPaths(config.dataDir).masterKey);
      if (initialised) {
        throw new CliError(`${config.dataDir} is already an initialised Ferry data dir; nothing done`);
      }
      // Read before anything is created: an empty or multi-line password leaves no half-made data dir.
      const adminPassword = o.adminPasswordStdin ? await readSecretFromStdin('admin password') : undefined;
      const ctx = await AppContext.create(config, 'create');
      try {
        await prepareDataDir(ctx, (line) => process.stdout.write(`${line}\n`), adminPassword);
      } finally {
        await ctx.dispose();
      }
      process.stdout.write(`initialised data dir ${config.dataDir}\n`);
    });
}
