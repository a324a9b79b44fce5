// `ferry quota scan USER`: counts the user's home as the disk quota does and stores it as their usage.
import type { Command } from 'commander';
import { type DataDirOption, withContext } from './common.js';
import { commandDescription } from './descriptions.js';

export function registerQuotaCommand(program: Command): void {
  const quota = program
    .command('quota')
    .description(commandDescription('quota'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  quota
    .command('scan')
    .description(
      "rebuild a user's quota usage (regular files and their bytes, partial uploads included) from the disk",
    )
    .argument('<name>', 'user name (a virtual folder name with --folder)')
    .option('--folder', "rebuild a virtual folder's usage instead (ferry folders)")
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .addHelpText(
      'after',
      '\nThe server also rescans every user and virtual folder with a quota when it starts (so a crash leaves no drift). Sessions of a\n' +
        'running server keep counting while it scans; run it with the server stopped for an exact figure.',
    )
    .action(async (name: string, o: { json?: boolean; folder?: boolean }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const usage = o.folder ? await ctx.scanFolderUsage(name) : await ctx.scanQuotaUsage(name);
        if (o.json) process.stdout.write(`${JSON.stringify({ name, ...usage })}\n`);
        else process.stdout.write(`${name}: ${usage.bytes} bytes in ${usage.files} files\n`);
      });
    });
}
