// `ferry folders ...`: virtual folders, their quota and who mounts them (a thin adapter over admin/folders.ts).
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import type { FolderView } from '../admin/folders.js';
import { type DataDirOption, STORE_OPTION_HELP, withContext, withReadOnlyContext } from './common.js';
import { commandDescription } from './descriptions.js';
import { parseSize } from './rules-options.js';

const limit = (n: number, unit: string) => (n === 0 ? 'unlimited' : `${n}${unit}`);

function printFolder(f: FolderView): void {
  const lines = [
    `name:        ${f.name}`,
    `directory:   ${f.path}`,
    ...(f.description ? [`description: ${f.description}`] : []),
    `quota:       ${limit(f.quotaBytes, ' bytes')}, ${limit(f.quotaFiles, ' files')}`,
    `used:        ${f.usedBytes} bytes in ${f.usedFiles} files${f.quotaBytes || f.quotaFiles ? '' : ' (counted only while a limit is set)'}`,
    `mounted:     ${f.mounts.length === 0 ? 'nowhere' : ''}`,
    ...f.mounts.map(
      (m) => `  ${m.owner.kind} ${m.owner.name} at ${m.virtualPath} (${m.permissions.join(',')})`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP);
}

interface QuotaFlags {
  quotaBytes?: string;
  quotaFiles?: string;
  description?: string;
}

export function registerFoldersCommand(program: Command): void {
  const folders = withStoreOptions(program.command('folders').description(commandDescription('folders')));
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  withStoreOptions(
    folders
      .command('add')
      .description('define a virtual folder (mount it with users set --folder or groups set --folder)')
      .argument('<name>', 'folder name')
      .requiredOption(
        '--path <dir>',
        'absolute directory on this server, outside the data dir (created at first use)',
      )
      .option('--description <text>', 'what the folder is for')
      .option(
        '--quota-bytes <size>',
        "bytes the folder may hold, everyone's writes together, e.g. 10GiB (0: no limit)",
      )
      .option('--quota-files <n>', 'files the folder may hold (0: no limit)'),
  ).action(async (name: string, o: QuotaFlags & { path: string }, cmd: Command) => {
    const quotaBytes = parseSize('--quota-bytes', o.quotaBytes);
    const quotaFiles = parseSize('--quota-files', o.quotaFiles);
    await withContext(opts(cmd), async (ctx) => {
      const f = await ctx.admin.folders.add(cliActor(), {
        name,
        path: o.path,
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(quotaBytes !== undefined ? { quotaBytes } : {}),
        ...(quotaFiles !== undefined ? { quotaFiles } : {}),
      });
      if (f.quotaBytes > 0 || f.quotaFiles > 0) await ctx.scanFolderUsage(name);
      process.stdout.write(`folder ${f.name} added (${f.path})\n`);
    });
  });

  withStoreOptions(
    folders
      .command('set')
      .description("change a folder's directory, description or quota (sessions get it at their next login)")
      .argument('<name>', 'folder name')
      .option('--path <dir>', 'absolute directory on this server, outside the data dir')
      .option('--description <text>', 'what the folder is for')
      .option('--quota-bytes <size>', 'bytes the folder may hold, e.g. 10GiB (0: no limit)')
      .option('--quota-files <n>', 'files the folder may hold (0: no limit)'),
  ).action(async (name: string, o: QuotaFlags & { path?: string }, cmd: Command) => {
    const quotaBytes = parseSize('--quota-bytes', o.quotaBytes);
    const quotaFiles = parseSize('--quota-files', o.quotaFiles);
    await withContext(opts(cmd), async (ctx) => {
      await ctx.admin.folders.set(cliActor(), {
        name,
        ...(o.path !== undefined ? { path: o.path } : {}),
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(quotaBytes !== undefined ? { quotaBytes } : {}),
        ...(quotaFiles !== undefined ? { quotaFiles } : {}),
      });
      // Usage is counted only while a limit is set: a new limit (or directory) starts from what the disk holds.
      if (quotaBytes !== undefined || quotaFiles !== undefined || o.path !== undefined)
        await ctx.scanFolderUsage(name);
      printFolder(await ctx.admin.folders.show(name));
    });
  });

  withStoreOptions(
    folders.command('list').description('list virtual folders').option('--json', 'print JSON'),
  ).action(async (o: { json?: boolean }, cmd: Command) => {
    await withReadOnlyContext(opts(cmd), async (ctx) => {
      const all = await ctx.admin.folders.list();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      process.stdout.write('NAME                             MOUNTS  QUOTA BYTES   DIRECTORY\n');
      for (const f of all) {
        process.stdout.write(
          `${f.name.padEnd(32)} ${String(f.mounts.length).padEnd(7)} ${limit(f.quotaBytes, '').padEnd(13)} ${f.path}\n`,
        );
      }
    });
  });

  withStoreOptions(
    folders
      .command('show')
      .description("show a folder's directory, quota, usage and mounts")
      .argument('<name>', 'folder name')
      .option('--json', 'print JSON'),
  ).action(async (name: string, o: { json?: boolean }, cmd: Command) => {
    await withReadOnlyContext(opts(cmd), async (ctx) => {
      const f = await ctx.admin.folders.show(name);
      if (o.json) process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
      else printFolder(f);
    });
  });

  withStoreOptions(
    folders
      .command('remove')
      .description('delete a folder (refused while mounted; its directory and files stay)')
      .argument('<name>', 'folder name'),
  ).action(async (name: string, _o: unknown, cmd: Command) => {
    await withContext(opts(cmd), async (ctx) => {
      await ctx.admin.folders.remove(cliActor(), name);
      process.stdout.write(`folder ${name} removed (its directory is left as it is)\n`);
    });
  });
}
