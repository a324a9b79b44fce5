// `ferry users keys ...` and `ferry users totp ...`: a user's public keys and one-time codes.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { CliError, type DataDirOption, STORE_OPTION_HELP, withContext } from './common.js';
import { printTotpEnrolment } from './totp-output.js';

/** An authorized_keys or .pub file's text; a file that cannot be read is one line naming it. */
export function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** `users keys add|remove|generate`. */
export function registerUserKeyCommands(users: Command, opts: (cmd: Command) => DataDirOption): void {
  const keys = users.command('keys').description("manage a user's public keys");
  keys
    .command('add')
    .description('accept the key(s) in an authorized_keys or .pub file')
    .argument('<name>', 'user name')
    .argument('<file>', 'authorized_keys or .pub file')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, file: string, _o: unknown, cmd: Command) => {
      const text = readKeyFile(file);
      await withContext(opts(cmd), async (ctx) => {
        const added = await ctx.admin.users.addKeys(cliActor(), name, text);
        for (const fp of added) process.stdout.write(`added ${fp}\n`);
      });
    });
  keys
    .command('remove')
    .description('remove the key(s) in a .pub file, or one given by its SHA256 fingerprint')
    .argument('<name>', 'user name')
    .argument('<file-or-fingerprint>', '.pub file, or SHA256:... fingerprint')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, what: string, _o: unknown, cmd: Command) => {
      const text = what.startsWith('SHA256:') ? what : readKeyFile(what);
      await withContext(opts(cmd), async (ctx) => {
        const removed = await ctx.admin.users.removeKeys(cliActor(), name, text);
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
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, o: { type: string; output?: string }, cmd: Command) => {
      if (!['ed25519', 'ecdsa', 'rsa'].includes(o.type))
        throw new CliError(`unsupported key type '${o.type}'`, 2);
      await withContext(opts(cmd), async (ctx) => {
        const { fingerprint: added, privateKey } = await ctx.admin.users.generateKey(cliActor(), {
          name,
          type: o.type as 'ed25519' | 'ecdsa' | 'rsa',
          destination: o.output ?? 'stdout',
        });
        const privateText = privateKey.reveal();
        if (o.output) {
          writeFileSync(o.output, privateText, { mode: 0o600, flag: 'wx' });
          process.stderr.write(`private key written to ${o.output}\n`);
        } else {
          process.stdout.write(privateText);
        }
        process.stderr.write(`added ${added} to ${name}; the private key is not kept by Ferry\n`);
      });
    });
}

/** `users totp enable|disable`. */
export function registerUserTotpCommands(users: Command, opts: (cmd: Command) => DataDirOption): void {
  const totp = users.command('totp').description('one-time codes (TOTP, RFC 6238) as a login factor');
  totp
    .command('enable')
    .description('create a TOTP secret and recovery codes (shown once) and require the code at login')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const { uri, recoveryCodes, requiredMethods } = await ctx.admin.users.enableTotp(cliActor(), name);
        const factors = requiredMethods.filter((m) => m !== 'keyboard-interactive');
        await printTotpEnrolment(
          uri,
          recoveryCodes,
          `Login now needs: ${requiredMethods.join(' + ')} (the one-time code is asked after ${factors.join(' + ')}).`,
        );
      });
    });
  totp
    .command('disable')
    .description('remove the TOTP secret and stop asking for codes')
    .argument('<name>', 'user name')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const restored = await ctx.admin.users.disableTotp(cliActor(), name);
        process.stdout.write(
          `one-time codes disabled for ${name}; login needs: ${restored.length ? restored.join(' + ') : 'password or public key'}\n`,
        );
      });
    });
}
