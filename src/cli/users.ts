// `ferry users ...`: offline user management against the data dir.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  addPublicKeys,
  addUser,
  homeDirOf,
  parsePermissions,
  parseRequiredMethods,
  publicView,
  removePublicKeys,
  requireUser,
  setPassword,
} from '../auth/user-admin.js';
import { AppContext } from '../context.js';
import type { UserRecord } from '../store/types.js';
import { CliError, configFromOptions, type DataDirOption, readSecretFromStdin } from './common.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

async function withContext<T>(options: DataDirOption, run: (ctx: AppContext) => Promise<T>): Promise<T> {
  const ctx = await AppContext.create(configFromOptions(options));
  try {
    return await run(ctx);
  } finally {
    await ctx.dispose();
  }
}

function printUser(user: UserRecord, home: string): void {
  const view = publicView(user, home);
  const lines = [
    `name:        ${view.name}`,
    `status:      ${view.disabled ? 'disabled' : 'enabled'}`,
    `home:        ${view.home}`,
    `password:    ${view.hasPassword ? 'set' : 'not set'}`,
    `login needs: ${view.requiredMethods.length ? view.requiredMethods.join(' + ') : 'password or public key'}`,
    `public keys: ${view.publicKeys.length === 0 ? 'none' : ''}`,
    ...view.publicKeys.map((k) => `  ${k.type} ${k.fingerprint}${k.comment ? ` ${k.comment}` : ''}`),
    'permissions:',
    ...Object.entries(view.permissions).map(([dir, perms]) => `  ${dir} ${perms.join(',')}`),
    `created:     ${view.created}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerUsersCommand(program: Command): void {
  const users = program
    .command('users')
    .description('manage SFTP users (works offline against the data dir)')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  users
    .command('add')
    .description('create a user')
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the password from standard input')
    .option('--public-key <file>', 'authorized_keys or .pub file with key(s) to accept (repeatable)', collect, [])
    .option('--require <methods>', 'methods that must ALL succeed, e.g. publickey,password (two factors)')
    .option('--home <dir>', 'absolute home directory (default <data-dir>/homes/<name>)')
    .option('--perm <spec>', "permissions for a directory, e.g. '/in=list,upload' (repeatable; default '/=*')", collect, [])
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, o: { passwordStdin?: boolean; publicKey: string[]; require?: string; home?: string; perm: string[] }, cmd: Command) => {
      const password = o.passwordStdin ? await readSecretFromStdin('password') : undefined;
      const publicKeysText = o.publicKey.map(readKeyFile);
      await withContext(opts(cmd), async (ctx) => {
        const user = await addUser(ctx.store.users, {
          name,
          password,
          publicKeysText,
          requiredMethods: o.require ? parseRequiredMethods(o.require) : [],
          homeDir: o.home,
          permissions: parsePermissions(o.perm),
        });
        if (!password && publicKeysText.length === 0) {
          process.stderr.write(`warning: ${name} has no password and no key and cannot log in yet\n`);
        }
        process.stdout.write(`user ${user.name} added (home ${homeDirOf(user, ctx.paths.homes)})\n`);
      });
    });

  users
    .command('set')
    .description('change a user: permissions, required methods, home')
    .argument('<name>', 'user name')
    .option('--perm <spec>', "permissions for a directory, e.g. '/in=list,upload' (repeatable)", collect, [])
    .option('--reset-perms', "drop all permissions first (then '/' gets '*' unless --perm sets it)")
    .option('--require <methods>', "methods that must ALL succeed; 'any' for any one method")
    .option('--home <dir>', 'absolute home directory')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, o: { perm: string[]; resetPerms?: boolean; require?: string; home?: string }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const user = await requireUser(ctx.store.users, name);
        const updated = await ctx.store.users.update(name, {
          permissions: o.perm.length || o.resetPerms ? parsePermissions(o.perm, o.resetPerms ? undefined : user.permissions) : undefined,
          requiredMethods: o.require === undefined ? undefined : o.require === 'any' ? [] : parseRequiredMethods(o.require),
          homeDir: o.home,
        });
        printUser(updated!, homeDirOf(updated!, ctx.paths.homes));
      });
    });

  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const all = await ctx.store.users.list();
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all.map((u) => publicView(u, homeDirOf(u, ctx.paths.homes))), null, 2)}\n`);
          return;
        }
        process.stdout.write('NAME                             STATUS    KEYS  PASSWORD  REQUIRES\n');
        for (const u of all) {
          process.stdout.write(
            `${u.name.padEnd(32)} ${(u.disabled ? 'disabled' : 'enabled').padEnd(9)} ${String(u.publicKeys.length).padEnd(5)} ${(u.passwordHash ? 'set' : '-').padEnd(9)} ${u.requiredMethods.join(',') || 'any'}\n`,
          );
        }
      });
    });

  users
    .command('show')
    .description("show a user's settings, keys and permissions")
    .argument('<name>', 'user name')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const user = await requireUser(ctx.store.users, name);
        const home = homeDirOf(user, ctx.paths.homes);
        if (o.json) process.stdout.write(`${JSON.stringify(publicView(user, home), null, 2)}\n`);
        else printUser(user, home);
      });
    });

  users
    .command('remove')
    .description('delete a user (their files stay on disk)')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await requireUser(ctx.store.users, name);
        await ctx.store.users.remove(name);
        process.stdout.write(`user ${name} removed\n`);
      });
    });

  users
    .command('passwd')
    .description("set a user's password")
    .argument('<name>', 'user name')
    .requiredOption('--password-stdin', 'read the password from standard input')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const password = await readSecretFromStdin('password');
      await withContext(opts(cmd), async (ctx) => {
        await setPassword(ctx.store.users, name, password);
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
      .option('--data-dir <dir>', 'data directory')
      .action(async (name: string, _o: unknown, cmd: Command) => {
        await withContext(opts(cmd), async (ctx) => {
          await requireUser(ctx.store.users, name);
          await ctx.store.users.update(name, { disabled });
          process.stdout.write(`user ${name} ${disabled ? 'disabled' : 'enabled'}\n`);
        });
      });
  }

  const keys = users.command('keys').description("manage a user's public keys");
  keys
    .command('add')
    .description('accept the key(s) in an authorized_keys or .pub file')
    .argument('<name>', 'user name')
    .argument('<file>', 'authorized_keys or .pub file')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, file: string, _o: unknown, cmd: Command) => {
      const text = readKeyFile(file);
      await withContext(opts(cmd), async (ctx) => {
        for (const fp of await addPublicKeys(ctx.store.users, name, text)) process.stdout.write(`added ${fp}\n`);
      });
    });
  keys
    .command('remove')
    .description('remove the key(s) in a .pub file, or one given by its SHA256 fingerprint')
    .argument('<name>', 'user name')
    .argument('<file-or-fingerprint>', '.pub file, or SHA256:... fingerprint')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, what: string, _o: unknown, cmd: Command) => {
      const text = what.startsWith('SHA256:') ? what : readKeyFile(what);
      await withContext(opts(cmd), async (ctx) => {
        for (const fp of await removePublicKeys(ctx.store.users, name, text)) process.stdout.write(`removed ${fp}\n`);
      });
    });
}
