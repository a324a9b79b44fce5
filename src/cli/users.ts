// `ferry users ...`: offline user management against the data dir.
import { posix } from 'node:path';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { parseAllowedSources, parseProtocols, parseRequiredMethods } from '../auth/user-admin.js';
import {
  CliError,
  type DataDirOption,
  readSecretFromStdin,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
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
import { transferQuotaChanges, withTransferQuotaOptions } from './transfer-quota-options.js';
import { readKeyFile, registerUserKeyCommands, registerUserTotpCommands } from './users-keys.js';
import { printEffective, printUser } from './users-output.js';
import { registerUserTransferCommands } from './users-transfer.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--home` of add and set alike: a session cannot start in a relative home, so none is stored. */
function checkHome(home: string | undefined): void {
  if (home !== undefined && !posix.isAbsolute(home)) {
    throw new CliError(`--home must be an absolute path, not '${home}'`, 2);
  }
}

const PROTOCOLS_HELP =
  "protocols the user may use, comma-separated: sftp, scp, ssh (hash commands), https (web client), ftps; 'all' (default)";

/** `--quota-files`: a whole number (0 for no limit). */
function fileCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} must be a whole number, got '${value}'`, 2);
  return Number(value);
}

export function registerUsersCommand(program: Command): void {
  const users = program
    .command('users')
    .description(commandDescription('users'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;
  registerUserTransferCommands(users, opts);

  users
    .command('add')
    .description('create a user')
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the password from standard input')
    .option(
      '--public-key <file>',
      'authorized_keys or .pub file with key(s) to accept (repeatable)',
      collect,
      [],
    )
    .option('--require <methods>', 'methods that must ALL succeed, e.g. publickey,password (two factors)')
    .option('--home <dir>', 'absolute home directory (default <data-dir>/homes/<name>)')
    .option('--allow-from <cidrs>', 'networks the user may log in from, comma-separated (default: anywhere)')
    .option('--protocols <list>', PROTOCOLS_HELP)
    .option(
      '--perm <spec>',
      "permissions for a directory, e.g. '/in=list,upload' (repeatable; default '/=*', or the groups' with --group)",
      collect,
      [],
    )
    .option('--group <name>', 'primary group: its defaults apply where the user sets none')
    .option(
      '--add-group <name>',
      'secondary group, after the primary in precedence (repeatable)',
      collect,
      [],
    )
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(
      async (
        name: string,
        o: {
          passwordStdin?: boolean;
          publicKey: string[];
          require?: string;
          home?: string;
          perm: string[];
          allowFrom?: string;
          protocols?: string;
          group?: string;
          addGroup: string[];
        },
        cmd: Command,
      ) => {
        checkHome(o.home);
        const protocols = o.protocols !== undefined ? parseProtocols(o.protocols) : [];
        const password = o.passwordStdin ? await readSecretFromStdin('password') : undefined;
        const publicKeysText = o.publicKey.map(readKeyFile);
        await withContext(opts(cmd), async (ctx) => {
          const user = await ctx.admin.users.add(cliActor(), {
            name,
            password,
            publicKeys: publicKeysText,
            requiredMethods: o.require ? parseRequiredMethods(o.require) : [],
            home: o.home,
            permissions: o.perm,
            allowedSources: o.allowFrom ? parseAllowedSources(o.allowFrom) : [],
            protocols,
            ...(o.group !== undefined ? { group: o.group } : {}),
            groups: o.addGroup,
          });
          if (!password && publicKeysText.length === 0) {
            process.stderr.write(`warning: ${name} has no password and no key and cannot log in yet\n`);
          }
          process.stdout.write(`user ${user.name} added (home ${user.home})\n`);
        });
      },
    );

  withFolderMountOptions(
    withTransferQuotaOptions(
      users
        .command('set')
        .description(
          'change a user: permissions, required methods, home, protocols, disk and transfer quotas, bandwidth, expiry',
        )
        .argument('<name>', 'user name'),
      'the user',
      "the groups' limit, if any",
    )
      .option(
        '--perm <spec>',
        "permissions for a directory, e.g. '/in=list,upload' (repeatable)",
        collect,
        [],
      )
      .option('--reset-perms', "drop all permissions first (then '/' gets '*' unless --perm sets it)")
      .option(
        '--inherit-perm <folder>',
        "drop the user's own entry for a folder, so their groups' applies (repeatable)",
        collect,
        [],
      )
      .option('--group <name>', "primary group; 'none' to leave it")
      .option('--add-group <name>', 'join a secondary group, after the others (repeatable)', collect, [])
      .option('--remove-group <name>', 'leave a group, primary or secondary (repeatable)', collect, [])
      .option('--require <methods>', "methods that must ALL succeed; 'any' for any one method")
      .option('--home <dir>', 'absolute home directory')
      .option(
        '--allow-from <cidrs>',
        "networks the user may log in from, comma-separated; 'any' for anywhere",
      )
      .option('--protocols <list>', PROTOCOLS_HELP)
      .option(
        '--pgp <spec>',
        "OpenPGP policy of a folder: '/in=encrypt:KEY[,KEY][;sign:KEY][;armor][;suffix:.gpg|none][;decrypt-on-download]', '/drop=decrypt[;verify:KEY][;quarantine:/DIR]', '/in=none' (repeatable)",
        collect,
        [],
      )
      .option('--quota-bytes <size>', 'disk quota: bytes the home may hold, e.g. 500MiB, 10GiB (0: no limit)')
      .option('--quota-files <n>', 'disk quota: files the home may hold (0: no limit)')
      .option(
        '--upload-rate <bytes/s>',
        'bytes per second the user may upload, all sessions together, e.g. 5MiB (0: no limit)',
      )
      .option(
        '--download-rate <bytes/s>',
        'bytes per second the user may download, all sessions together, e.g. 5MiB (0: no limit)',
      )
      .option('--expires <date>', "last day (YYYY-MM-DD, UTC) the user may log in; 'never' to remove")
      .option(
        '--must-change-password',
        'the next password login must change the password (SSH asks for a new one; FTPS refuses until then)',
      )
      .option('--no-must-change-password', 'clear that flag')
      .option(
        '--storage-encryption <mode>',
        "encrypted storage of the user's new files: on, off, or default (the server's --storage-encryption)",
      )
      .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
      .option('--store <url>', STORE_OPTION_HELP)
      .action(
        async (
          name: string,
          o: {
            quotaBytes?: string;
            expires?: string;
            uploadRate?: string;
            downloadRate?: string;
            quotaFiles?: string;
            transferQuotaUpload?: string;
            transferQuotaDownload?: string;
            transferQuotaTotal?: string;
            mustChangePassword?: boolean;
            storageEncryption?: string;
            perm: string[];
            resetPerms?: boolean;
            require?: string;
            home?: string;
            allowFrom?: string;
            protocols?: string;
            pgp: string[];
            inheritPerm: string[];
            group?: string;
            addGroup: string[];
            removeGroup: string[];
          } & FolderMountFlags,
          cmd: Command,
        ) => {
          checkHome(o.home);
          const folders = parseFolderMounts(o);
          const protocols = o.protocols !== undefined ? parseProtocols(o.protocols) : undefined;
          const quotaBytes = parseSize('--quota-bytes', o.quotaBytes);
          const quotaFiles = fileCount('--quota-files', o.quotaFiles);
          const transferQuotas = transferQuotaChanges(o);
          const storageEncryption = onOffDefault('--storage-encryption', o.storageEncryption);
          await withContext(opts(cmd), async (ctx) => {
            await checkFolderMounts(ctx.admin, { kind: 'user', name }, folders);
            if (onlyFolderOptions(cmd, o)) {
              for (const line of await applyFolderMounts(ctx.admin, { kind: 'user', name }, folders))
                process.stdout.write(`${line}\n`);
              return;
            }
            let updated = await ctx.admin.users.set(cliActor(), {
              name,
              quotaBytes,
              quotaFiles,
              uploadRate: parseSize('--upload-rate', o.uploadRate),
              downloadRate: parseSize('--download-rate', o.downloadRate),
              ...(transferQuotas ? { transferQuotas } : {}),
              ...(o.mustChangePassword !== undefined ? { mustChangePassword: o.mustChangePassword } : {}),
              ...(o.expires !== undefined ? { expires: o.expires === 'never' ? null : o.expires } : {}),
              ...(storageEncryption !== undefined ? { storageEncryption } : {}),
              permissions: o.perm,
              resetPermissions: o.resetPerms ?? false,
              inheritPermissions: o.inheritPerm,
              ...(o.group !== undefined ? { group: o.group === 'none' ? null : o.group } : {}),
              addGroups: o.addGroup,
              removeGroups: o.removeGroup,
              pgp: o.pgp,
              ...(o.require !== undefined
                ? { requiredMethods: o.require === 'any' ? [] : parseRequiredMethods(o.require) }
                : {}),
              ...(o.home !== undefined ? { home: o.home } : {}),
              ...(o.allowFrom !== undefined
                ? { allowedSources: o.allowFrom === 'any' ? [] : parseAllowedSources(o.allowFrom) }
                : {}),
              ...(protocols !== undefined ? { protocols } : {}),
            });
            // Usage is counted only while a limit is set: a new limit starts from what the disk holds now.
            const regrouped = o.group !== undefined || o.addGroup.length > 0 || o.removeGroup.length > 0;
            if (quotaBytes !== undefined || quotaFiles !== undefined || regrouped) {
              await ctx.scanQuotaUsage(name);
              updated = await ctx.admin.users.show(name);
            }
            for (const line of await applyFolderMounts(ctx.admin, { kind: 'user', name }, folders))
              process.stdout.write(`${line}\n`);
            printUser(updated, await ctx.admin.users.memberships(name));
          });
        },
      ),
  );

  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.users.list();
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write('NAME                             STATUS    KEYS  PASSWORD  REQUIRES\n');
        for (const u of all) {
          process.stdout.write(
            `${u.name.padEnd(32)} ${(u.disabled ? 'disabled' : 'enabled').padEnd(9)} ${String(u.publicKeys.length).padEnd(5)} ${(u.hasPassword ? 'set' : '-').padEnd(9)} ${u.requiredMethods.join(',') || 'any'}\n`,
          );
        }
      });
    });

  users
    .command('show')
    .description("show a user's settings, keys and permissions")
    .argument('<name>', 'user name')
    .option('--json', 'print JSON')
    .option('--effective', 'the settings sessions get (own, else from groups), each with where it came from')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, o: { json?: boolean; effective?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        if (o.effective) {
          const effective = await ctx.admin.users.effective(name);
          if (o.json) process.stdout.write(`${JSON.stringify(effective, null, 2)}\n`);
          else printEffective(effective);
          return;
        }
        const view = await ctx.admin.users.show(name);
        if (o.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        else printUser(view, await ctx.admin.users.memberships(name));
      });
    });

  users
    .command('remove')
    .description('delete a user (their files stay on disk)')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.users.remove(cliActor(), name);
        process.stdout.write(`user ${name} removed\n`);
      });
    });

  users
    .command('passwd')
    .description("set a user's password")
    .argument('<name>', 'user name')
    .requiredOption('--password-stdin', 'read the password from standard input')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const password = await readSecretFromStdin('password');
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.users.passwd(cliActor(), name, password);
        process.stdout.write(`password of ${name} changed\n`);
      });
    });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    users
      .command(verb)
      .description(disabled ? 'refuse all logins of a user' : 'allow a disabled user to log in again')
      .argument('<name>', 'user name')
      .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
      .option('--store <url>', STORE_OPTION_HELP)
      .action(async (name: string, _o: unknown, cmd: Command) => {
        await withContext(opts(cmd), async (ctx) => {
          await ctx.admin.users.setDisabled(cliActor(), name, disabled);
          process.stdout.write(`user ${name} ${disabled ? 'disabled' : 'enabled'}\n`);
        });
      });
  }

  registerUserKeyCommands(users, opts);
  registerUserTotpCommands(users, opts);

  users
    .command('unlock')
    .description('end an account lockout (and forget its failed logins)')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.users.unlock(cliActor(), name);
        process.stdout.write(`${name} unlocked\n`);
      });
    });
}

/** on / off / default as true / false / null (undefined when not given); anything else is a usage error. */
function onOffDefault(flag: string, value: string | undefined): boolean | null | undefined {
  if (value === undefined) return undefined;
  const modes = new Map<string, boolean | null>([
    ['on', true],
    ['off', false],
    ['default', null],
  ]);
  const mode = modes.get(value.toLowerCase());
  if (mode === undefined) throw new CliError(`${flag}: expected on, off or default, got ${value}`, 2);
  return mode;
}
