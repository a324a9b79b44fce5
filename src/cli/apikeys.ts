// `ferry apikeys ...`: API keys for scripts using the REST API (shown once, stored as a SHA-256 hash).
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { apiKeyView } from '../admin/api-access.js';
import { API_ROLES } from '../store/types.js';
import { parseDuration } from '../transfers/timing.js';
import {
  CliError,
  type DataDirOption,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';

/** `--expires 90d` (a duration from now) or an ISO date. */
function parseExpiry(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  if (/^\d+(ms|s|m|h|d)/.test(text)) return new Date(Date.now() + parseDuration(text));
  const at = Date.parse(text);
  if (!Number.isFinite(at))
    throw new CliError(`--expires must be a duration (90d) or a date, got '${text}'`, 2);
  return new Date(at);
}

function parseRole(role: string): (typeof API_ROLES)[number] {
  const found = API_ROLES.find((r) => r === role);
  if (!found) throw new CliError(`--role must be one of ${API_ROLES.join(', ')}, got '${role}'`, 2);
  return found;
}

export function registerApikeysCommand(program: Command): void {
  const apikeys = program
    .command('apikeys')
    .description(commandDescription('apikeys'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  apikeys
    .command('add')
    .description('issue a key; it is printed once (the last line), only its hash is kept')
    .argument('<name>', 'key name (shown in the audit trail as api:<name>)')
    .requiredOption('--role <role>', `what it may do: ${API_ROLES.join(', ')}`)
    .option('--expires <when>', 'expiry: a duration from now (90d, 12h) or an ISO date (default: never)')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (name: string, o: { role: string; expires?: string }, cmd: Command) => {
      const role = parseRole(o.role);
      const expiresAt = parseExpiry(o.expires);
      await withContext(opts(cmd), async (ctx) => {
        const { key, record } = await ctx.admin.apiAccess.addKey(cliActor(), { name, role, expiresAt });
        const expiry = record.expiresAt ? `, expires ${record.expiresAt.toISOString()}` : '';
        process.stderr.write(`API key ${name} (role ${role}${expiry}); shown only now, keep it safe:\n`);
        process.stdout.write(`${key.reveal()}\n`);
      });
    });

  apikeys
    .command('list')
    .description('list keys (names, roles, prefixes, expiry, last use; never the keys)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = (await ctx.admin.apiAccess.listKeys()).map(apiKeyView);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          'NAME             ROLE      PREFIX        EXPIRES                   LAST USED\n',
        );
        for (const k of all) {
          process.stdout.write(
            `${k.name.padEnd(16)} ${k.role.padEnd(9)} ${k.prefix.padEnd(13)} ${(k.expires ?? 'never').padEnd(25)} ${k.lastUsed ?? 'never'}\n`,
          );
        }
      });
    });

  apikeys
    .command('remove')
    .description('revoke a key (refused from the next request on)')
    .argument('<name>')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.apiAccess.removeKey(cliActor(), name);
        process.stdout.write(`API key ${name} revoked\n`);
      });
    });
}
