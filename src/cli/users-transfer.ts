// `ferry users export` and `ferry users import`: moving users between servers (Ferry's JSON, SFTPGo dumps).
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { CliError, type DataDirOption, STORE_OPTION_HELP, withContext } from './common.js';

async function readInput(file: string): Promise<string> {
  try {
    return await readFile(file === '-' ? '/dev/stdin' : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

export function registerUserTransferCommands(users: Command, opts: (cmd: Command) => DataDirOption): void {
  users
    .command('export')
    .description('write every user as JSON (password hashes, keys, permissions, limits) for another Ferry')
    .option('--output <file>', 'write here (mode 0600, replaced atomically) instead of standard output')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { output?: string }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const doc = await ctx.admin.userTransfer.export(cliActor());
        const text = `${JSON.stringify(doc, null, 2)}\n`;
        if (o.output === undefined) {
          process.stdout.write(text);
          return;
        }
        // It holds password hashes: never readable by others, never half-written under its name.
        const partial = `${o.output}.partial-${process.pid}`;
        await writeFile(partial, text, { mode: 0o600, flag: 'wx' });
        await rename(partial, o.output);
        process.stderr.write(`${doc.users.length} users written to ${o.output}\n`);
      });
    });

  users
    .command('import')
    .description(
      'create users from a Ferry export or an SFTPGo dump (sftpgo dumpdata); existing users are kept',
    )
    .argument('<file>', "the JSON file ('-' for standard input)")
    .option('--update', 'replace existing users from the file too (keys are added, not removed)')
    .option('--dry-run', 'check the file and say what would change, change nothing')
    .option('--json', 'print the report as JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (file: string, o: { update?: boolean; dryRun?: boolean; json?: boolean }, cmd: Command) => {
      const text = await readInput(file);
      await withContext(opts(cmd), async (ctx) => {
        const report = await ctx.admin.userTransfer.import(cliActor(), text, {
          update: o.update === true,
          dryRun: o.dryRun === true,
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ dryRun: o.dryRun === true, ...report })}\n`);
          return;
        }
        const would = o.dryRun ? 'would be ' : '';
        const list = (names: readonly string[]) => (names.length > 0 ? `: ${names.join(', ')}` : '');
        process.stdout.write(`${report.format === 'sftpgo' ? 'SFTPGo dump' : 'Ferry export'}\n`);
        process.stdout.write(`created ${would}${report.created.length}${list(report.created)}\n`);
        process.stdout.write(`updated ${would}${report.updated.length}${list(report.updated)}\n`);
        process.stdout.write(
          `unchanged ${report.unchanged.length}${list(report.unchanged)}${report.unchanged.length > 0 && !o.update ? ' (they exist; --update replaces them)' : ''}\n`,
        );
        const g = report.groups;
        if (g.created.length + g.updated.length + g.unchanged.length > 0)
          process.stdout.write(
            `groups: created ${would}${g.created.length}${list(g.created)}; updated ${would}${g.updated.length}${list(g.updated)}; unchanged ${g.unchanged.length}${list(g.unchanged)}\n`,
          );
        const f = report.folders;
        if (f.created.length + f.updated.length + f.unchanged.length > 0)
          process.stdout.write(
            `folders: created ${would}${f.created.length}${list(f.created)}; updated ${would}${f.updated.length}${list(f.updated)}; unchanged ${f.unchanged.length}${list(f.unchanged)}\n`,
          );
        for (const line of report.notImported) process.stdout.write(`not imported: ${line}\n`);
      });
    });
}
