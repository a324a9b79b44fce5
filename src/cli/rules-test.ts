// `ferry rules test NAME`: does the rule fire for a sample event, and with --run, what its actions answer now.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import type { EventFields } from '../automation/event-names.js';
import type { RuleAction } from '../store/automation-types.js';
import { type AnyRuleEventName, PRE_OPERATION_EVENTS, RULE_EVENTS } from '../store/automation-types.js';
import { CliError, type DataDirOption, withContext } from './common.js';

interface TestFlags {
  readonly event?: string;
  readonly user?: string;
  readonly path?: string;
  readonly size?: string;
  readonly status?: string;
  readonly protocol?: string;
  readonly source?: string;
  readonly run?: boolean;
}

const EVENTS: readonly string[] = [...RULE_EVENTS, ...PRE_OPERATION_EVENTS];

function sampleOverrides(f: TestFlags): EventFields {
  const fields: EventFields = {};
  if (f.user !== undefined) fields.user = f.user;
  if (f.path !== undefined) {
    if (!f.path.startsWith('/'))
      throw new CliError(`--path must be a virtual path starting with /: ${f.path}`);
    fields.path = f.path;
  }
  if (f.size !== undefined) {
    if (!/^\d+$/.test(f.size)) throw new CliError(`--size must be a number of bytes: ${f.size}`);
    fields.size = f.size;
  }
  if (f.status !== undefined) {
    if (f.status !== 'ok' && f.status !== 'failed')
      throw new CliError(`--status must be ok or failed: ${f.status}`);
    fields.status = f.status;
  }
  if (f.protocol !== undefined) fields.protocol = f.protocol;
  if (f.source !== undefined) fields.remoteAddress = f.source;
  return fields;
}

export function registerRulesTest(
  rules: Command,
  opts: (cmd: Command) => DataDirOption,
  describeAction: (a: RuleAction) => string,
): void {
  rules
    .command('test')
    .description(
      'tell whether a rule fires for a sample event (a counting rule: whether it counts it); with --run, when it does, run its actions once now (not a delivery: not retried; the run is in the audit trail)',
    )
    .argument('<name>', 'the rule')
    .option('--event <event>', "the sample event (default: the rule's first event)")
    .option('--user <name>', 'the sample user (default test)')
    .option('--path <path>', 'the sample virtual path (default /test/sample.txt)')
    .option('--size <bytes>', 'the sample size (default 1024)')
    .option('--status <ok|failed>', 'the sample outcome (default ok)')
    .option('--protocol <name>', 'the sample protocol (default sftp)')
    .option('--source <address>', 'the sample client address (default 127.0.0.1)')
    .option(
      '--run',
      'run the actions for real: webhooks are sent, mail is sent, files are moved (default: off)',
    )
    .addHelpText(
      'after',
      '\nExample:\n  ferry rules test partner-in --path /outbound/acme/invoice.csv --size 2048 --run\n',
    )
    .action(async (name: string, f: TestFlags, cmd: Command) => {
      if (f.event !== undefined && !EVENTS.includes(f.event))
        throw new CliError(`unknown event '${f.event}'; known: ${EVENTS.join(', ')}`);
      const overrides = sampleOverrides(f);
      const exitCode = await withContext(opts(cmd), async (ctx) => {
        const rule = await ctx.admin.rules.get(name);
        const { countedSample, sampleFields, ruleFires } = await import('../automation/rule-test.js');
        const sample = sampleFields(rule, f.event as AnyRuleEventName | undefined, overrides);
        const matched = ruleFires(rule, sample.name, sample.fields);
        // A counting rule counts the sample rather than firing for it: say so, and that one is not enough.
        const counted = matched ? countedSample(rule, sample.fields) : undefined;
        const fires = matched && counted?.counts !== false;
        const verb = counted
          ? counted.counts
            ? 'counts'
            : 'does not count'
          : fires
            ? 'fires for'
            : 'does not fire for';
        process.stdout.write(
          `rule ${rule.name} ${verb} ${sample.name} of ${sample.fields.path} by ${sample.fields.user}` +
            `${counted ? `: ${counted.note}` : ''}` +
            `${rule.enabled ? '' : ' (the rule is disabled: it fires only once enabled)'}\n`,
        );
        if (!f.run) {
          if (fires)
            for (const a of rule.actions) process.stdout.write(`  would run: ${describeAction(a)}\n`);
          return fires ? 0 : 1;
        }
        // The admin service runs them (as POST /api/rules/{name}/test with run does), recording the run first.
        const run = await ctx.admin.rules.testRun(cliActor(), name, {
          ...(f.event !== undefined ? { event: f.event } : {}),
          ...(f.user !== undefined ? { user: f.user } : {}),
          ...(f.path !== undefined ? { path: f.path } : {}),
          ...(f.size !== undefined ? { size: Number(f.size) } : {}),
          ...(f.status !== undefined ? { status: f.status as 'ok' | 'failed' } : {}),
          ...(f.protocol !== undefined ? { protocol: f.protocol } : {}),
          ...(f.source !== undefined ? { source: f.source } : {}),
        });
        for (const r of run.ran) {
          const code = r.responseCode !== null ? ` (${r.responseCode})` : '';
          const why = r.ok ? '' : `: ${r.error ?? 'failed'}`;
          const action = rule.actions[r.action - 1]!;
          process.stdout.write(
            `  action ${r.action} ${describeAction(action)}: ${r.ok ? 'ok' : 'failed'}${code} in ${r.latencyMs} ms${why}\n`,
          );
        }
        return run.ran.every((r) => r.ok) && run.fires ? 0 : 1;
      });
      process.exitCode = exitCode;
    });
}
