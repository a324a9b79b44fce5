// `ferry cluster status`: the nodes serving this store (cluster mode's node registry), up or down.
import type { Command } from 'commander';
import { MISSED_HEARTBEATS, nodeStatuses, nodeStatusJson } from '../admin/cluster.js';
import { type DataDirOption, STORE_OPTION_HELP, withReadOnlyContext } from './common.js';
import { commandDescription } from './descriptions.js';

/** Seconds as the largest two units ("3d4h", "5m2s"). */
function duration(seconds: number): string {
  const parts: [number, string][] = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor(seconds / 3600) % 24, 'h'],
    [Math.floor(seconds / 60) % 60, 'm'],
    [seconds % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .map(([n, u]) => `${n}${u}`)
    .join('');
}

export function registerClusterCommand(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(commandDescription('cluster'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)');

  cluster
    .command('status')
    .description('list the nodes: id, state, version, uptime, sessions, last heartbeat')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .addHelpText(
      'after',
      `
Every serving process records a heartbeat in the store every node.heartbeatSeconds (default 5); a node
none of whose processes did for ${MISSED_HEARTBEATS} heartbeats is down. A node stopped cleanly leaves the list.

Example:
  ferry cluster status --store postgres://ferry@db.example:5432/ferry`,
    )
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(cmd.optsWithGlobals() as DataDirOption, async (ctx) => {
        const now = new Date();
        const nodes = nodeStatuses(await ctx.store.nodes.list(), now);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(nodes.map(nodeStatusJson), null, 2)}\n`);
          return;
        }
        if (nodes.length === 0) {
          process.stdout.write('no nodes registered (no ferry serve is running on this store)\n');
          return;
        }
        const rows = [
          ['NODE', 'STATE', 'VERSION', 'UPTIME', 'SESSIONS', 'PROCS', 'LAST HEARTBEAT'],
          ...nodes.map((n) => [
            n.id,
            n.state,
            n.version,
            n.state === 'up' ? duration(n.uptimeSeconds) : '-',
            String(n.sessions),
            String(n.processes),
            `${n.lastHeartbeat.toISOString()} (${duration(Math.max(0, Math.round((now.getTime() - n.lastHeartbeat.getTime()) / 1000)))} ago)`,
          ]),
        ];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows)
          process.stdout.write(
            `${r
              .map((c, i) => c.padEnd(widths[i]!))
              .join('  ')
              .trimEnd()}\n`,
          );
      });
    });
}
