// `ferry rules ...`: event rules (events → conditions → actions), importing them from a file, and their deliveries.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { deliveryView } from '../admin/rule-views.js';
import type { RuleInput } from '../admin/rules.js';
import { ruleView } from '../admin/rules.js';
import { rulesFileFormat } from '../admin/rules-file.js';
import { describeCount } from '../automation/counting.js';
import type { DeliveryAttempt, RuleAction, RuleRecord } from '../store/automation-types.js';
import {
  CliError,
  type DataDirOption,
  readSecretFromStdin,
  STORE_OPTION_HELP,
  withContext,
  withReadOnlyContext,
} from './common.js';
import { commandDescription } from './descriptions.js';
import { type RuleFlags, ruleInputFromFlags, ruleOptions, rulePatchFromFlags } from './rules-options.js';
import { registerRulesTest } from './rules-test.js';

const example = (lines: string) => `\nExample:\n${lines}\n`;

/** One action as one line: what it does and where to. */
export function describeAction(a: RuleAction): string {
  switch (a.kind) {
    case 'webhook':
      return `webhook POST ${a.url}${a.timeout ? ` (timeout ${a.timeout}s)` : ''}`;
    case 'email':
      return `email to ${a.to.join(', ')}${a.cc ? ` cc ${a.cc.join(', ')}` : ''}${a.subject ? ` subject '${a.subject}'` : ''}`;
    case 'command':
      return `command ${JSON.stringify(a.argv)}${a.timeout ? ` (timeout ${a.timeout}s)` : ''}`;
    case 'run-job':
      return `run job ${a.job}`;
    case 'retention':
      return `retention of ${a.user}:${a.path}${a.olderThanDays !== undefined ? ` older than ${a.olderThanDays} days` : ''}${a.keepFiles !== undefined ? ` beyond the newest ${a.keepFiles}` : ''}${a.moveTo ? `, moved to ${a.moveTo}` : ', deleted'}${a.dryRun ? ' (dry run)' : ''}`;
    case 'encrypt':
      return `encrypt to ${a.encryptTo.join(', ')}${a.signWith ? `, signed by ${a.signWith}` : ''}${a.armor ? ', armored' : ''} into ${a.target ?? `{{path}}${a.armor ? '.asc' : '.pgp'}`}${a.removeSource ? ', source removed' : ''}${a.user ? ` as ${a.user}` : ''}`;
    case 'decrypt':
      return `decrypt${a.decryptWith ? ` with ${a.decryptWith.join(' or ')}` : ''}${a.verifyWith ? `, signature by ${a.verifyWith.join(' or ')} required,` : ''} into ${a.target ?? 'the name without .pgp/.gpg/.asc'}${a.removeSource ? ', source removed' : ''}${a.user ? ` as ${a.user}` : ''}`;
    default:
      return `${a.kind}${a.target ? ` to ${a.target}` : ''}${a.user ? ` as ${a.user}` : ''}`;
  }
}

function describeConditions(r: RuleRecord): string {
  const c = r.conditions;
  const parts: string[] = [];
  if (c.users) parts.push(`user ${c.users.join(' ')}`);
  if (c.groups) parts.push(`group ${c.groups.join(' ')}`);
  if (c.paths) parts.push(`path ${c.paths.join(' ')}`);
  if (c.protocols) parts.push(`protocol ${c.protocols.join(',')}`);
  if (c.minSize !== undefined || c.maxSize !== undefined) {
    parts.push(`size ${c.minSize ?? 0}-${c.maxSize ?? '∞'} bytes`);
  }
  if (c.status) parts.push(`status ${c.status}`);
  if (c.sources) parts.push(`from ${c.sources.join(' ')}`);
  if (c.timeWindow) {
    parts.push(
      `at ${c.timeWindow.from}-${c.timeWindow.to}${c.timeWindow.days ? ` ${c.timeWindow.days.join(',')}` : ''}`,
    );
  }
  if (c.count) parts.push(`once ${describeCount(c.count)} (then counts again)`);
  return parts.length > 0 ? parts.join('; ') : 'always';
}

function printRule(r: RuleRecord): void {
  const line = (key: string, value: string) => process.stdout.write(`${`${key}:`.padEnd(14)}${value}\n`);
  line('rule', r.name);
  if (r.description) line('description', r.description);
  line('enabled', r.enabled ? 'yes' : 'no');
  line('on', r.events.join(', '));
  if (r.schedule) line('schedule', r.schedule);
  line('when', describeConditions(r));
  for (const [i, a] of r.actions.entries()) line(i === 0 ? 'actions' : '', `${i + 1}. ${describeAction(a)}`);
  line('secret', r.hasSecret ? '(set)' : 'none');
  if (r.events.some((e) => e.startsWith('pre-'))) {
    line('hook', `timeout ${r.hookTimeoutMs ?? 5000} ms, on failure ${r.onHookFailure ?? 'deny'}`);
  } else line('attempts', `${r.maxAttempts ?? 8} before dead-lettering`);
  line('created', r.createdAt.toISOString());
  line('updated', r.updatedAt.toISOString());
}

function printAttempt(a: DeliveryAttempt): void {
  const code = a.responseCode !== undefined ? `code ${a.responseCode}` : '-';
  process.stdout.write(
    `    attempt ${String(a.attempt).padEnd(3)} ${a.at.toISOString()}  ${(a.ok ? 'ok' : 'failed').padEnd(6)} ${`${a.latencyMs} ms`.padEnd(9)} ${code.padEnd(9)} ${a.error ?? ''}\n`,
  );
}

export function registerRulesCommand(program: Command): void {
  const rules = program
    .command('rules')
    .description(commandDescription('rules'))
    .option('--data-dir <dir>', 'data directory (default ./data, env FERRY_DATA_DIR)')
    .option('--store <url>', STORE_OPTION_HELP)
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
    .addHelpText(
      'after',
      example(
        '  ferry rules add failed-jobs --on job-failed --action email --to ops@example.com\n  ferry rules list\n\nSee docs/RULES.md for events, conditions, templates and delivery.',
      ),
    );
  const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;

  ruleOptions(
    rules
      .command('add')
      .description('define a rule: one action here; several with ferry rules import')
      .argument('<name>', 'rule name (letters, digits, . _ -)'),
    'add',
  )
    .addHelpText(
      'after',
      example(`  printf '%s' "$SECRET" | ferry rules add partner-in --on upload --path '/outbound/acme/**' \\
      --action webhook --url https://hooks.example.com/ferry --secret-stdin
  ferry rules add brute-force --on login-failed --count 5 --within 10m --per user \\
      --action email --to security@example.com --subject '{{count}} failed logins for {{key}}'`),
    )
    .action(async (name: string, f: RuleFlags, cmd: Command) => {
      const input = ruleInputFromFlags(name, f);
      const secret = f.secretStdin ? await readSecretFromStdin('webhook secret') : undefined;
      await withContext(opts(cmd), async (ctx) => {
        const rule = await ctx.admin.rules.add(cliActor(), input as RuleInput, secret);
        process.stdout.write(
          `rule ${rule.name} added${rule.enabled ? '' : ' (disabled)'}: on ${rule.events.join(',')}${rule.schedule ? ` '${rule.schedule}'` : ''}${rule.conditions.count ? `, once ${describeCount(rule.conditions.count)}` : ''} → ${rule.actions.map(describeAction).join('; ')}\n`,
        );
      });
    });

  ruleOptions(
    rules
      .command('set')
      .description('change a rule (the flags of add; --clear removes settings)')
      .argument('<name>'),
    'set',
  )
    .addHelpText(
      'after',
      example("  ferry rules set partner-in --path '/outbound/**' --clear user --max-attempts 12"),
    )
    .action(async (name: string, f: RuleFlags, cmd: Command) => {
      const secret = f.secretStdin ? await readSecretFromStdin('webhook secret') : undefined;
      await withContext(opts(cmd), async (ctx) => {
        const before = await ctx.admin.rules.get(name);
        const { changed } = await ctx.admin.rules.set(
          cliActor(),
          name,
          rulePatchFromFlags(before, f),
          secret,
        );
        process.stdout.write(
          changed.length > 0 ? `rule ${name} changed: ${changed.join(', ')}\n` : `rule ${name} unchanged\n`,
        );
      });
    });

  rules
    .command('list')
    .description('list rules')
    .option('--json', 'print JSON (never the webhook secret)')
    .addHelpText('after', example('  ferry rules list --json'))
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const all = await ctx.admin.rules.list();
        if (o.json) {
          process.stdout.write(`${JSON.stringify(all.map(ruleView), null, 2)}\n`);
          return;
        }
        process.stdout.write('NAME             EVENTS                   ACTIONS                  ENABLED\n');
        for (const r of all) {
          const actions = r.actions.map((a) => a.kind).join(',');
          // A counting rule says so beside its events: `login-failed ×5/10m per user`.
          const count = r.conditions.count;
          const events = `${r.events.join(',')}${count ? ` ×${count.atLeast}/${count.within}${count.per === 'rule' ? '' : ` per ${count.per}`}` : ''}`;
          process.stdout.write(
            `${r.name.padEnd(16)} ${events.padEnd(24)} ${actions.padEnd(24)} ${r.enabled ? 'yes' : 'no'}\n`,
          );
        }
      });
    });

  rules
    .command('show')
    .description('show one rule: events, conditions, actions')
    .argument('<name>')
    .option('--json', 'print JSON (never the webhook secret)')
    .addHelpText('after', example('  ferry rules show partner-in'))
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withReadOnlyContext(opts(cmd), async (ctx) => {
        const rule = await ctx.admin.rules.get(name);
        if (o.json) process.stdout.write(`${JSON.stringify(ruleView(rule), null, 2)}\n`);
        else printRule(rule);
      });
    });

  for (const [command, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    rules
      .command(command)
      .description(`${command} a rule`)
      .argument('<name>')
      .addHelpText('after', example(`  ferry rules ${command} partner-in`))
      .action(async (name: string, _o: unknown, cmd: Command) => {
        await withContext(opts(cmd), async (ctx) => {
          const changed = await ctx.admin.rules.setEnabled(cliActor(), name, enabled);
          process.stdout.write(changed ? `rule ${name} ${command}d\n` : `rule ${name} already ${command}d\n`);
        });
      });
  }

  rules
    .command('remove')
    .description('remove a rule (its past deliveries stay listed)')
    .argument('<name>')
    .addHelpText('after', example('  ferry rules remove partner-in'))
    .action(async (name: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        await ctx.admin.rules.remove(cliActor(), name);
        process.stdout.write(`rule ${name} removed\n`);
      });
    });

  rules
    .command('import')
    .description(
      'add or update the rules of a YAML or JSON file (.json is JSON); unchanged rules are left alone, rules not in the file kept',
    )
    .argument(
      '<file>',
      "a list of rules, or one under 'rules:'; webhook secrets come from secretEnv: VARIABLE",
    )
    .addHelpText('after', example('  ACME_HOOK_SECRET=whsec_... ferry rules import rules.yaml'))
    .action(async (file: string, _o: unknown, cmd: Command) => {
      const text = await readFile(file, 'utf8');
      await withContext(opts(cmd), async (ctx) => {
        const report = await ctx.admin.rules.import(cliActor(), text, {
          format: rulesFileFormat(file),
          source: basename(file),
          env: process.env,
        });
        const names = (list: readonly string[]) => (list.length > 0 ? ` (${list.join(', ')})` : '');
        process.stdout.write(
          `${file}: ${report.added.length} added${names(report.added)}, ${report.updated.length} updated${names(report.updated)}, ${report.unchanged.length} unchanged${names(report.unchanged)}\n`,
        );
      });
    });

  rules
    .command('deliveries')
    .description(
      'deliveries of rule actions, newest first, with every attempt (status, latency, response code, error); finished ones are kept rules.deliveryRetentionDays (default 30)',
    )
    .argument('[id]', 'one delivery: its event fields and each attempt with its output')
    .option('--failed', 'only dead deliveries and those whose last attempt failed')
    .option('--rule <name>', 'only this rule')
    .option('--limit <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .addHelpText('after', example('  ferry rules deliveries --failed --rule partner-in'))
    .action(
      async (
        id: string | undefined,
        o: { failed?: boolean; rule?: string; limit: string; json?: boolean },
        cmd: Command,
      ) => {
        if (!/^\d+$/.test(o.limit)) throw new CliError(`--limit must be a number, got '${o.limit}'`, 2);
        await withReadOnlyContext(opts(cmd), async (ctx) => {
          const list = id
            ? [await ctx.admin.rules.delivery(id)]
            : await ctx.admin.rules.deliveries({
                limit: Number(o.limit),
                ...(o.failed ? { failed: true } : {}),
                ...(o.rule !== undefined ? { rule: o.rule } : {}),
              });
          if (o.json) {
            const views = list.map(deliveryView);
            process.stdout.write(`${JSON.stringify(id ? views[0] : views, null, 2)}\n`);
            return;
          }
          process.stdout.write(
            'ID                                    RULE             EVENT          STATUS     ATTEMPTS  CREATED\n',
          );
          for (const h of list) {
            const d = h.delivery;
            process.stdout.write(
              `${d.id.padEnd(37)} ${d.ruleName.padEnd(16)} ${d.eventName.padEnd(14)} ${d.status.padEnd(10)} ${String(d.attempts).padEnd(9)} ${d.createdAt.toISOString()}${d.status === 'pending' ? `  next ${d.nextAttemptAt.toISOString()}` : ''}\n`,
            );
            if (id) {
              for (const [k, v] of Object.entries(d.fields)) process.stdout.write(`    ${k}: ${v}\n`);
            }
            for (const a of h.attempts) {
              printAttempt(a);
              if (id && a.output) process.stdout.write(`      ${a.output.replaceAll('\n', '\n      ')}\n`);
            }
          }
        });
      },
    );

  rules
    .command('redeliver')
    .description(
      'queue a finished or dead delivery again, due now, with the same id (the receiver can tell a repeat)',
    )
    .argument('<id>', 'delivery id (see ferry rules deliveries)')
    .addHelpText('after', example('  ferry rules redeliver 0192f1c2-6a1b-7c3d-9e4f-5a6b7c8d9e0f'))
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await withContext(opts(cmd), async (ctx) => {
        const d = await ctx.admin.rules.redeliver(cliActor(), id);
        process.stdout.write(
          `delivery ${d.id} of rule ${d.ruleName} queued again; ferry serve delivers it\n`,
        );
      });
    });
  registerRulesTest(rules, opts, describeAction);
}
