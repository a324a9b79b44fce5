// `ferry users ...`: offline user management against the data dir.
import { readFileSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import type { Command } from 'commander';
import {
  addPublicKeys,
  addUser,
  homeDirOf,
  parseAllowedSources,
  parsePermissions,
  parseRequiredMethods,
  publicView,
  removePublicKeys,
  requireUser,
  setPassword,
} from '../auth/user-admin.js';
import { exportPrivateKey, generateSshKeyPair, type SshKeyType } from '../keys/private-keys.js';
import type { UserRecord } from '../store/types.js';
import {
  CliError,
  type DataDirOption,
  readSecretFromStdin,
  withContext,
  withReadOnlyContext,
} from './common.js';

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

/** `--home` of add and set alike: a session cannot start in a relative home, so none is stored. */
function checkHome(home: string | undefined): void {
  if (home !== undefined && !posix.isAbsolute(home)) {
    throw new CliError(`--home must be an absolute path, not '${home}'`, 2);
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
    `login from:  ${view.allowedSources.length ? view.allowedSources.join(', ') : 'anywhere'}`,
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
    .option(
      '--public-key <file>',
      'authorized_keys or .pub file with key(s) to accept (repeatable)',
      collect,
      [],
    )
    .option('--require <methods>', 'methods that must ALL succeed, e.g. publickey,password (two factors)')
    .option('--home <dir>', 'absolute home directory (default <data-dir>/homes/<name>)')
    .option('--allow-from <cidrs>', 'networks the user may log in from, comma-separated (default: anywhere)')
    .option(
      '--perm <spec>',
      "permissions for a directory, e.g. '/in=list,upload' (repeatable; default '/=*')",
      collect,
      [],
    )
    .option('--data-dir <dir>', 'data directory')
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
        },
        cmd: Command,
      ) => {
        checkHome(o.home);
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
            allowedSources: o.allowFrom ? parseAllowedSources(o.allowFrom) : [],
          });
          await ctx.audit.recordAdmin({
            command: 'users add',
            subject: user.name,
            changes: {
              password: password ? 'set' : 'none',
              publicKeys: user.publicKeys.map((k) => k.fingerprint),
              requiredMethods: user.requiredMethods,
              home: user.homeDir,
              permissions: user.permissions,
            },
          });
          if (!password && publicKeysText.length === 0) {
            process.stderr.write(`warning: ${name} has no password and no key and cannot log in yet\n`);
          }
          process.stdout.write(`user ${user.name} added (home ${homeDirOf(user, ctx.paths.homes)})\n`);
        });
      },
    );

  users
    .command('set')
    .description('change a user: permissions, required methods, home')
    .argument('<name>', 'user name')
    .option('--perm <spec>', "permissions for a directory, e.g. '/in=list,upload' (repeatable)", collect, [])
    .option('--reset-perms', "drop all permissions first (then '/' gets '*' unless --perm sets it)")
    .option('--require <methods>', "methods that must ALL succeed; 'any' for any one method")
    .option('--home <dir>', 'absolute home directory')
    .option('--allow-from <cidrs>', "networks the user may log in from, comma-separated; 'any' for anywhere")
    .option('--data-dir <dir>', 'data directory')
    .action(
      async (
        name: string,
        o: { perm: string[]; resetPerms?: boolean; require?: string; home?: string; allowFrom?: string },
        cmd: Command,
      ) => {
        checkHome(o.home);
        await withContext(opts(cmd), async (ctx) => {
          const user = await requireUser(ctx.store.users, name);
          const requiredMethods =
            o.require === undefined ? undefined : o.require === 'any' ? [] : parseRequiredMethods(o.require);
          const updated = await ctx.store.users.update(name, {
            permissions:
              o.perm.length || o.resetPerms
                ? parsePermissions(o.perm, o.resetPerms ? undefined : user.permissions)
                : undefined,
            requiredMethods,
            // With TOTP on, a new rule is also what `totp disable` goes back to (without the code).
            ...(requiredMethods && user.requiredMethodsBeforeTotp
              ? { requiredMethodsBeforeTotp: requiredMethods.filter((m) => m !== 'keyboard-interactive') }
              : {}),
            homeDir: o.home,
            allowedSources:
              o.allowFrom === undefined
                ? undefined
                : o.allowFrom === 'any'
                  ? []
                  : parseAllowedSources(o.allowFrom),
          });
          await ctx.audit.recordAdmin({
            command: 'users set',
            subject: name,
            changes: {
              ...(o.perm.length || o.resetPerms
                ? { permissions: { from: user.permissions, to: updated!.permissions } }
                : {}),
              ...(o.require !== undefined
                ? { requiredMethods: { from: user.requiredMethods, to: updated!.requiredMethods } }
                : {}),
              ...(o.home !== undefined ? { home: { from: user.homeDir, to: updated!.homeDir } } : {}),
              ...(o.allowFrom !== undefined
                ? { allowedSources: { from: user.allowedSources, to: updated!.allowedSources } }
                : {}),
            },
          });
          printUser(updated!, homeDirOf(updated!, ctx.paths.homes));
        });
      },
    );

  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.store.users.list();
        if (o.json) {
          process.stdout.write(
            `${JSON.stringify(
              all.map((u) => publicView(u, homeDirOf(u, ctx.paths.homes))),
              null,
              2,
            )}\n`,
          );
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
      await withReadOnlyContext(opts(cmd), async (ctx) => {
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
        await ctx.audit.recordAdmin({ command: 'users remove', subject: name });
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
        await ctx.audit.recordAdmin({
          command: 'users passwd',
          subject: name,
          changes: { password: 'changed' },
        });
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
          await ctx.audit.recordAdmin({ command: `users ${verb}`, subject: name, changes: { disabled } });
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
        const added = await addPublicKeys(ctx.store.users, name, text);
        await ctx.audit.recordAdmin({ command: 'users keys add', subject: name, changes: { added } });
        for (const fp of added) process.stdout.write(`added ${fp}\n`);
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
        const removed = await removePublicKeys(ctx.store.users, name, text);
        await ctx.audit.recordAdmin({ command: 'users keys remove', subject: name, changes: { removed } });
        for (const fp of removed) process.stdout.write(`removed ${fp}\n`);
      });
    });
  keys
    .command('generate')
    .description(
      'create a key pair for a user: the public half is stored, the private half printed once, never kept',
    )
    .argument('<name>', 'user name')
    .option('--type <type>', 'ed25519, ecdsa or rsa', 'ed25519')
    .option('--output <file>', 'write the private key to a new file (mode 0600) instead of stdout')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, o: { type: string; output?: string }, cmd: Command) => {
      if (!['ed25519', 'ecdsa', 'rsa'].includes(o.type))
        throw new CliError(`unsupported key type '${o.type}'`, 2);
      await withContext(opts(cmd), async (ctx) => {
        await requireUser(ctx.store.users, name);
        const pair = generateSshKeyPair(o.type as SshKeyType, undefined, `${name}@ferry`);
        const [added = ''] = await addPublicKeys(ctx.store.users, name, pair.publicLine);
        await ctx.audit.recordAdmin({
          command: 'users keys generate',
          subject: name,
          // The private half leaves Ferry here: say where to, never what.
          changes: { added: [added], private: true, to: o.output ?? 'stdout' },
        });
        const privateText = exportPrivateKey(pair, 'openssh');
        if (o.output) {
          writeFileSync(o.output, privateText, { mode: 0o600, flag: 'wx' });
          process.stderr.write(`private key written to ${o.output}\n`);
        } else {
          process.stdout.write(privateText);
        }
        process.stderr.write(`added ${added} to ${name}; the private key is not kept by Ferry\n`);
      });
    });

  const totp = users.command('totp').description('one-time codes (TOTP, RFC 6238) as a login factor');
  totp
    .command('enable')
    .description('create a TOTP secret and recovery codes (shown once) and require the code at login')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const user = await requireUser(ctx.store.users, name);
        const enrolment = await ctx.totp.enrol(name);
        // The code comes after the factors the user already has (password or key), like OpenSSH's
        // AuthenticationMethods password,keyboard-interactive.
        const first = user.requiredMethods.filter((m) => m !== 'keyboard-interactive');
        const factors =
          first.length > 0 ? first : user.passwordHash ? ['password' as const] : ['publickey' as const];
        await ctx.store.users.update(name, {
          requiredMethods: [...factors, 'keyboard-interactive'],
          // Enabling again (a new secret) keeps the rule from before the first enable.
          requiredMethodsBeforeTotp: user.requiredMethodsBeforeTotp ?? user.requiredMethods,
        });
        await ctx.audit.recordAdmin({
          command: 'users totp enable',
          subject: name,
          changes: { requiredMethods: [...factors, 'keyboard-interactive'] },
        });
        const { default: QRCode } = await import('qrcode');
        const qr = await QRCode.toString(enrolment.uri, { type: 'terminal', small: true });
        process.stdout.write(
          `${qr}\n${enrolment.uri}\n\nScan the code (or enter the URI) in an authenticator app.\n` +
            `Login now needs: ${[...factors, 'keyboard-interactive'].join(' + ')} (the one-time code is asked after ${factors.join(' + ')}).\n` +
            `Recovery codes, each usable once instead of a code (shown only now):\n${enrolment.recoveryCodes.map((c) => `  ${c}`).join('\n')}\n`,
        );
      });
    });
  totp
    .command('disable')
    .description('remove the TOTP secret and stop asking for codes')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const user = await requireUser(ctx.store.users, name);
        if (!(await ctx.totp.disable(name))) throw new CliError(`${name} has no TOTP secret`);
        // Back to the rule TOTP replaced: a user who logged in with a key OR a password does so again.
        const restored =
          user.requiredMethodsBeforeTotp ?? user.requiredMethods.filter((m) => m !== 'keyboard-interactive');
        await ctx.store.users.update(name, { requiredMethods: restored, requiredMethodsBeforeTotp: null });
        await ctx.audit.recordAdmin({
          command: 'users totp disable',
          subject: name,
          changes: { requiredMethods: restored },
        });
        process.stdout.write(
          `one-time codes disabled for ${name}; login needs: ${restored.length ? restored.join(' + ') : 'password or public key'}\n`,
        );
      });
    });

  users
    .command('unlock')
    .description('end an account lockout (and forget its failed logins)')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await requireUser(ctx.store.users, name);
        await ctx.store.accounts.clearFailures(name);
        await ctx.audit.recordAdmin({ command: 'users unlock', subject: name });
        process.stdout.write(`${name} unlocked\n`);
      });
    });
}
