// `ferry defender list|unban|allow|deny`: the defender's bans and its allow and deny lists, all held in the store
// (shared by every process; the config's list entries are a base shown here but changed only in the config).
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { DEFENDER_LISTS, type DefenderListName } from '../store/types.js';
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

  for (const list of DEFENDER_LISTS) registerListCommand(defender, list, opts);
}

const LIST_HELP: Record<DefenderListName, string> = {
  allow: 'the allow list: addresses never banned, scored or limited per address',
  deny: 'the deny list: addresses refused before authentication on every protocol',
};

/** `ferry defender allow|deny list|add|remove`: the same service calls as /api/defender/allow|deny. */
function registerListCommand(
  defender: Command,
  list: DefenderListName,
  opts: (cmd: Command) => DataDirOption,
): void {
  const command = defender.command(list).description(LIST_HELP[list]);
  const storeOptions = (cmd: Command) =>
    cmd
      .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
      .option('--store <url>', STORE_OPTION_HELP);

  storeOptions(
    command
      .command('list')
      .description(
        `list the ${list} list: the config's entries (source config), then those added here or over the API`,
      )
      .option('--json', 'print JSON'),
  ).action(async (o: { json?: boolean }, cmd: Command) => {
    await withReadOnlyContext(opts(cmd), async (ctx) => {
      const entries = await ctx.admin.defender.entries(list);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        'CIDR                                         SOURCE  ADDED BY              NOTE\n',
      );
      for (const e of entries)
        process.stdout.write(
          `${e.cidr.padEnd(44)} ${e.source.padEnd(7)} ${(e.createdBy ?? '-').padEnd(21)} ${e.note}\n`,
        );
    });
  });

  storeOptions(
    command
      .command('add')
      .description(`put an address or CIDR on the ${list} list (every serving process applies it at once)`)
      .argument('<cidr>', 'an address (192.0.2.7) or a CIDR (10.0.0.0/8, 2001:db8::/32)')
      .option('--note <text>', 'why (shown in listings)'),
  ).action(async (cidr: string, o: { note?: string }, cmd: Command) => {
    await withContext(opts(cmd), async (ctx) => {
      const entry = await ctx.admin.defender.addEntry(cliActor(), { list, cidr, note: o.note });
      process.stdout.write(`${entry.cidr} added to the ${list} list\n`);
    });
  });

  storeOptions(
    command
      .command('remove')
      .description(`take an entry off the ${list} list (the config's entries are changed in the config)`)
      .argument('<cidr>', 'the address or CIDR as listed'),
  ).action(async (cidr: string, _o: unknown, cmd: Command) => {
    await withContext(opts(cmd), async (ctx) => {
      const removed = await ctx.admin.defender.removeEntry(cliActor(), list, cidr);
      process.stdout.write(`${removed} removed from the ${list} list\n`);
    });
  });
}
