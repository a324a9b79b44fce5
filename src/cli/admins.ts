// `ferry admins ...`: administrator accounts of the REST API and console (separate from SFTP users).
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { adminView } from '../admin/api-access.js';
import { generatePassword } from '../auth/password.js';
import { API_ROLES } from '../store/types.js';
import { Secret } from '../util/secret.js';
import {
  CliError,
  type DataDirOption,
  readSecretFromStdin,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';
import { printTotpEnrolment } from './totp-output.js';

function parseRole(role: string): (typeof API_ROLES)[number] {
  const found = API_ROLES.find((r) => r === role);
  if (!found) throw new CliError(`--role must be one of ${API_ROLES.join(', ')}, got '${role}'`, 2);
  return found;
}

/** From stdin, or a generated one printed once. */
async function passwordFor(
  fromStdin: boolean | undefined,
): Promise<{ password: Secret<string>; generated: boolean }> {
  if (fromStdin) return { password: await readSecretFromStdin('password'), generated: false };
  return { password: new Secret(generatePassword()), generated: true };
}

export function registerAdminsCommand(program: Command): void {
  const admins = program
    .command('admins')
    .description(commandDescription('admins'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  admins
    .command('add')
    .description(
      'create an account (argon2id); without --password-stdin a password is generated and printed once',
    )
    .argument('<name>')
    .requiredOption('--role <role>', `what it may do: ${API_ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from standard input')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, o: { role: string; passwordStdin?: boolean }, cmd: Command) => {
      const role = parseRole(o.role);
      const { password, generated } = await passwordFor(o.passwordStdin);
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.apiAccess.addAdmin(cliActor(), { name, role, password });
        process.stdout.write(`admin ${name} added (role ${role})\n`);
        if (generated) process.stdout.write(`one-time password (shown only now): ${password.reveal()}\n`);
      });
    });

  admins
    .command('list')
    .description('list accounts')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = (await ctx.admin.apiAccess.listAdmins()).map(adminView);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write('NAME             ROLE      CREATED\n');
        for (const a of all) process.stdout.write(`${a.name.padEnd(16)} ${a.role.padEnd(9)} ${a.created}\n`);
      });
    });

  admins
    .command('set')
    .description(
      "change an account's role (its open console sessions get the new role at their next request)",
    )
    .argument('<name>')
    .requiredOption('--role <role>', `what it may do: ${API_ROLES.join(', ')}`)
    .action(async (name: string, o: { role: string }, cmd: Command) => {
      const role = parseRole(o.role);
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.apiAccess.setAdmin(cliActor(), name, { role });
        process.stdout.write(`admin ${name} now has role ${role}\n`);
      });
    });

  admins
    .command('passwd')
    .description('set a password (from standard input, or generated and printed once)')
    .argument('<name>')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, o: { passwordStdin?: boolean }, cmd: Command) => {
      const { password, generated } = await passwordFor(o.passwordStdin);
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.apiAccess.passwdAdmin(cliActor(), name, password);
        process.stdout.write(`password of ${name} changed\n`);
        if (generated) process.stdout.write(`one-time password (shown only now): ${password.reveal()}\n`);
      });
    });

  admins
    .command('remove')
    .description('delete an account')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.apiAccess.removeAdmin(cliActor(), name);
        process.stdout.write(`admin ${name} removed\n`);
      });
    });

  const totp = admins
    .command('totp')
    .description('one-time codes (TOTP, RFC 6238) at console login (POST /api/login); API keys need none');
  totp
    .command('enable')
    .description(
      'create a TOTP secret and recovery codes (shown once); console login then needs the code; open console sessions end',
    )
    .argument('<name>')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const { uri, recoveryCodes } = await ctx.admin.apiAccess.enableTotp(cliActor(), name);
        await printTotpEnrolment(
          uri,
          recoveryCodes,
          `Console login (POST /api/login) of ${name} now needs "code" besides the password.`,
        );
      });
    });
  totp
    .command('disable')
    .description('remove the TOTP secret: console login needs the password only')
    .argument('<name>')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.apiAccess.disableTotp(cliActor(), name);
        process.stdout.write(`one-time codes disabled for ${name}; console login needs the password only\n`);
      });
    });
}
