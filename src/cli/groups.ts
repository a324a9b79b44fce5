// `ferry groups ...`: groups and the defaults their members inherit (a thin adapter over admin/groups.ts).
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import type { GroupView } from '../admin/groups.js';
import { parseAllowedSources, parseProtocols } from '../auth/user-admin.js';
import { formatPgpPolicy } from '../util/pgp-policy.js';
import { type DataDirOption, STORE_OPTION_HELP, withContext, withReadOnlyContext } from './common.js';
import { commandDescription } from './descriptions.js';
import {
  applyFolderMounts,
  checkFolderMounts,
  type FolderMountFlags,
  onlyFolderOptions,
  parseFolderMounts,
  withFolderMountOptions,
} from './folder-mounts.js';
import { parseSize } from './rules-options.js';
import {
  type TransferQuotaFlags,
  transferQuotaChanges,
  transferQuotaText,
  withTransferQuotaOptions,
} from './transfer-quota-options.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const one = (n: number, unit: string) => (n === 0 ? 'no default' : `${n}${unit}`);

function printGroup(
  g: GroupView,
  folders: readonly { folder: string; virtualPath: string; permissions: readonly string[] }[],
): void {
  const lines = [
    `name:           ${g.name}`,
    ...(g.description ? [`description:    ${g.description}`] : []),
    `home template:  ${g.homeTemplate ?? 'none (members get <data-dir>/homes/<user>)'}`,
    `protocols:      ${g.protocols.length ? g.protocols.join(', ') : 'no default'}`,
    `login from:     ${g.allowedSources.length ? g.allowedSources.join(', ') : 'no default'}`,
    `permissions:    ${Object.keys(g.permissions).length === 0 ? 'none' : ''}`,
    ...Object.entries(g.permissions).map(([dir, perms]) => `  ${dir} ${perms.join(',')}`),
    `openpgp:        ${Object.keys(g.pgpPolicies).length === 0 ? 'none' : ''}`,
    ...Object.entries(g.pgpPolicies).map(([dir, policy]) => `  ${formatPgpPolicy(dir, policy)}`),
    `quota:          ${one(g.quotaBytes, ' bytes')}, ${one(g.quotaFiles, ' files')}`,
    `bandwidth:      upload ${one(g.uploadRate, ' B/s')}, download ${one(g.downloadRate, ' B/s')}`,
    `folders:        ${folders.length === 0 ? 'none' : ''}`,
    ...folders.map((f) => `  ${f.virtualPath} ${f.folder} ${f.permissions.join(',')}`),
    `transfer quota: ${transferQuotaText(g.transferQuotas, 'no default')}`,
    `members:        ${g.members.length === 0 ? 'none' : g.members.map((m) => `${m.user}${m.primary ? ' (primary)' : ''}`).join(', ')}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const PERM_HELP =
  "permissions for a folder, e.g. '/in=list,upload' (repeatable; a group names only these folders)";
const PROTOCOLS_HELP =
  "protocols members may use unless they set their own: sftp, scp, ssh, https, ftps; 'all' for no default";

interface SettingFlags extends TransferQuotaFlags {
  perm: string[];
  homeTemplate?: string;
  description?: string;
  protocols?: string;
  allowFrom?: string;
  pgp: string[];
  quotaBytes?: string;
  quotaFiles?: string;
  uploadRate?: string;
  downloadRate?: string;
}

/** The options `add` and `set` share. */
function withSettingOptions(cmd: Command): Command {
  return withTransferQuotaOptions(cmd, 'members', 'no default')
    .option('--perm <spec>', PERM_HELP, collect, [])
    .option('--home-template <path>', "members' home, e.g. /srv/partners/%username% (the only placeholder)")
    .option('--description <text>', 'what the group is for')
    .option('--protocols <list>', PROTOCOLS_HELP)
    .option('--allow-from <cidrs>', "networks members may log in from, comma-separated; 'any' for no default")
    .option('--pgp <spec>', "OpenPGP folder policy, as 'users set --pgp' (repeatable)", collect, [])
    .option('--quota-bytes <size>', 'default disk quota, e.g. 10GiB (0: no default)')
    .option('--quota-files <n>', 'default file quota (0: no default)')
    .option('--upload-rate <bytes/s>', 'default upload rate per session, e.g. 5MiB (0: no default)')
    .option('--download-rate <bytes/s>', 'default download rate per session, e.g. 5MiB (0: no default)')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP);
}

function settingsOf(o: SettingFlags) {
  return {
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.protocols !== undefined ? { protocols: parseProtocols(o.protocols) } : {}),
    ...(o.allowFrom !== undefined
      ? { allowedSources: o.allowFrom === 'any' ? [] : parseAllowedSources(o.allowFrom) }
      : {}),
    pgp: o.pgp,
    permissions: o.perm,
    quotaBytes: parseSize('--quota-bytes', o.quotaBytes),
    quotaFiles: parseSize('--quota-files', o.quotaFiles),
    uploadRate: parseSize('--upload-rate', o.uploadRate),
    downloadRate: parseSize('--download-rate', o.downloadRate),
    transferQuotas: transferQuotaChanges(o),
  };
}

export function registerGroupsCommand(program: Command): void {
  const groups = program
    .command('groups')
    .description(commandDescription('groups'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP);
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  withSettingOptions(
    groups.command('add').description('create a group').argument('<name>', 'group name'),
  ).action(async (name: string, o: SettingFlags, cmd: Command) => {
    const settings = settingsOf(o);
    await withContext(opts(cmd), async (ctx) => {
      const g = await ctx.admin.groups.add(cliActor(), {
        name,
        ...settings,
        ...(o.homeTemplate !== undefined ? { homeTemplate: o.homeTemplate } : {}),
      });
      process.stdout.write(`group ${g.name} added\n`);
    });
  });

  withSettingOptions(
    withFolderMountOptions(
      groups
        .command('set')
        .description("change a group's defaults (members get them at their next login)")
        .argument('<name>', 'group name')
        .option('--reset-perms', 'drop all the group’s folder permissions first')
        .option('--remove-perm <folder>', "drop the group's entry for a folder (repeatable)", collect, [])
        .option('--no-home-template', 'members get the default home again'),
    ),
  ).action(
    async (
      name: string,
      o: Omit<SettingFlags, 'homeTemplate'> & {
        resetPerms?: boolean;
        removePerm: string[];
        homeTemplate?: string | false;
      } & FolderMountFlags,
      cmd: Command,
    ) => {
      const settings = settingsOf({ ...o, homeTemplate: undefined });
      const folders = parseFolderMounts(o);
      await withContext(opts(cmd), async (ctx) => {
        const owner = { kind: 'group', name } as const;
        await checkFolderMounts(ctx.admin, owner, folders);
        if (onlyFolderOptions(cmd, o)) {
          for (const line of await applyFolderMounts(ctx.admin, owner, folders))
            process.stdout.write(`${line}\n`);
          return;
        }
        const g = await ctx.admin.groups.set(cliActor(), {
          name,
          ...settings,
          resetPermissions: o.resetPerms ?? false,
          removePermissions: o.removePerm,
          ...(o.homeTemplate === false ? { homeTemplate: null } : {}),
          ...(typeof o.homeTemplate === 'string' ? { homeTemplate: o.homeTemplate } : {}),
        });
        // Usage is counted only while a limit is set: members start from what their disks hold now.
        if (settings.quotaBytes !== undefined || settings.quotaFiles !== undefined) {
          for (const m of g.members) await ctx.scanQuotaUsage(m.user);
        }
        for (const line of await applyFolderMounts(ctx.admin, owner, folders))
          process.stdout.write(`${line}\n`);
        printGroup(g, await ctx.admin.folders.mountsOf(owner));
      });
    },
  );

  groups
    .command('list')
    .description('list groups')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.groups.list();
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write('NAME                             MEMBERS  HOME TEMPLATE\n');
        for (const g of all) {
          process.stdout.write(
            `${g.name.padEnd(32)} ${String(g.members.length).padEnd(8)} ${g.homeTemplate ?? '-'}\n`,
          );
        }
      });
    });

  groups
    .command('show')
    .description("show a group's defaults and members")
    .argument('<name>', 'group name')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const g = await ctx.admin.groups.show(name);
        const folders = await ctx.admin.folders.mountsOf({ kind: 'group', name });
        if (o.json) process.stdout.write(`${JSON.stringify({ ...g, folders }, null, 2)}\n`);
        else printGroup(g, folders);
      });
    });

  groups
    .command('remove')
    .description('delete a group (refused while it has members)')
    .argument('<name>', 'group name')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.groups.remove(cliActor(), name);
        process.stdout.write(`group ${name} removed\n`);
      });
    });
}
