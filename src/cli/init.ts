// `ferry init`: create a data dir with its store, master key, host keys and admin account, without serving.
import type { Command } from 'commander';
import { AppContext, isInitialisedDataDir } from '../context.js';
import { prepareDataDir } from '../server.js';
import { CliError, configFromOptions } from './common.js';
import { commandDescription } from './descriptions.js';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(commandDescription('init'))
    .option('--data-dir <dir>', 'data directory to create (default ./data, env FERRY_DATA_DIR)')
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
    .action(async (o: { dataDir?: string; config?: string }) => {
      const config = configFromOptions(o);
      if (isInitialisedDataDir(config.dataDir)) {
        throw new CliError(`${config.dataDir} is already an initialised Ferry data dir; nothing done`);
      }
      const ctx = await AppContext.create(config, 'create');
      try {
        await prepareDataDir(ctx, (line) => process.stdout.write(`${line}\n`));
      } finally {
        await ctx.dispose();
      }
      process.stdout.write(`initialised data dir ${config.dataDir}\n`);
    });
}
