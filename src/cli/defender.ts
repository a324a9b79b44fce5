// `ferry defender list|unban`: the bans the built-in defender holds in the store (shared by all processes).
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import {
  CliError,
  type DataDirOption,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';

export function registerDefenderCommand(program: Command): void {
  const defender = program
    .command('defender')
    .description(commandDescription('defender'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  defender
    .command('list')
    .description('list scored and banned addresses')
    .option('--banned', 'only addresses banned now')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (o: { banned?: boolean; json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const now = new Date();
        const hosts = await ctx.admin.defender.list({ bannedOnly: o.banned ?? false, now });
        if (o.json) {
          const view = hosts.map((h) => ({
            address: h.address,
            score: h.score,
            banned: Boolean(h.bannedUntil && h.bannedUntil > now),
            bannedUntil: h.bannedUntil?.toISOString() ?? null,
            banCount: h.banCount,
            lastReason: h.lastReason,
            updated: h.updatedAt.toISOString(),
          }));
          process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          'ADDRESS                                  SCORE  BANNED UNTIL              BANS  LAST REASON\n',
        );
        for (const h of hosts) {
          const until = h.bannedUntil && h.bannedUntil > now ? h.bannedUntil.toISOString() : '-';
          process.stdout.write(
            `${h.address.padEnd(40)} ${String(h.score).padEnd(6)} ${until.padEnd(25)} ${String(h.banCount).padEnd(5)} ${h.lastReason}\n`,
          );
        }
      });
    });

  defender
    .command('unban')
    .description('lift a ban (and forget the score) of an address')
    .argument('<address>', 'IPv4 or IPv6 address')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .action(async (address: string, _o: unknown, cmd: Command) => {
      if (isIP(address) === 0) throw new CliError(`'${address}' is not an IP address`, 2);
      await withContext(opts(cmd), async (ctx) => {
        const key = await ctx.admin.defender.unban(cliActor(), address);
        process.stdout.write(`${key} unbanned\n`);
      });
    });
}
