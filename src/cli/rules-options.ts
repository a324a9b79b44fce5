// `ferry rules add|set` flags: declared once for both, and turned into a rule (add) or a patch (set).
import type { Command } from 'commander';
import type { RulePatch } from '../admin/rules.js';
import { parseTimeWindow } from '../automation/rule-schema.js';
import type { RuleAction, RuleCount, RuleRecord } from '../store/automation-types.js';
import { CliError } from './common.js';

export interface RuleFlags {
  on?: string;
  description?: string;
  path?: string[];
  user?: string[];
  group?: string[];
  protocol?: string;
  minSize?: string;
  maxSize?: string;
  status?: string;
  source?: string[];
  timeWindow?: string;
  count?: string;
  within?: string;
  per?: string;
  cron?: string;
  hookTimeout?: string;
  onHookFailure?: string;
  maxAttempts?: string;
  disabled?: boolean;
  action?: string;
  url?: string;
  secretStdin?: boolean;
  timeout?: string;
  to?: string[];
  cc?: string[];
  subject?: string;
  body?: string;
  argv?: string;
  command?: string;
  arg?: string[];
  target?: string;
  runAs?: string;
  job?: string;
  under?: string;
  olderThanDays?: string;
  keepFiles?: string;
  moveTo?: string;
  dryRun?: boolean;
  encryptTo?: string[];
  signWith?: string;
  armor?: boolean;
  verify?: string[];
  decryptWith?: string[];
  removeSource?: boolean;
  clear?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The flags each action kind reads (any other action flag with it is a mistake worth saying). */
const ACTION_FLAGS: Readonly<Record<string, readonly (keyof RuleFlags)[]>> = {
  webhook: ['url', 'timeout', 'secretStdin'],
  email: ['to', 'cc', 'subject', 'body'],
  command: ['argv', 'command', 'arg', 'timeout'],
  move: ['target', 'runAs'],
  copy: ['target', 'runAs'],
  rename: ['target', 'runAs'],
  delete: ['runAs'],
  sha256: ['runAs'],
  'run-job': ['job'],
  retention: ['runAs', 'under', 'olderThanDays', 'keepFiles', 'moveTo', 'dryRun'],
  encrypt: ['target', 'runAs', 'encryptTo', 'signWith', 'armor', 'removeSource'],
  decrypt: ['target', 'runAs', 'verify', 'decryptWith', 'removeSource'],
};
const ALL_ACTION_FLAGS = [...new Set(Object.values(ACTION_FLAGS).flat())];
const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Declares the rule flags on `add` or `set` (set adds --clear and has no --disabled). */
export function ruleOptions(cmd: Command, mode: 'add' | 'set'): Command {
  cmd
    .option(
      '--on <events>',
      'events, comma-separated: upload, download, delete, rename, mkdir, rmdir, copy, login, login-failed, ban, admin, job-started, job-succeeded, job-failed, server-started, server-stopping, disk-space-low, store-error, host-key-rotated, partner-key-changed, key-expiring, schedule, pre-upload, pre-download, pre-delete',
    )
    .option('--description <text>', 'what the rule is for')
    .option(
      '--path <glob>',
      'only for these virtual paths (repeatable; ** crosses /, !glob excludes)',
      collect,
    )
    .option('--user <glob>', 'only for these users (repeatable; !glob excludes)', collect)
    .option('--group <glob>', 'only for users in these groups (repeatable)', collect)
    .option('--protocol <names>', 'only over these protocols, comma-separated: sftp, scp, ssh, https, ftps')
    .option('--min-size <bytes>', 'only files at least this large (suffix K, M, G: 1024-based)')
    .option('--max-size <bytes>', 'only files at most this large (suffix K, M, G)')
    .option('--status <status>', 'only completed (ok) or failed operations (default: both)')
    .option('--source <cidr>', 'only from these addresses or CIDRs (repeatable)', collect)
    .option(
      '--time-window <window>',
      "only at these local times: 'HH:MM-HH:MM' with optional days, e.g. '08:00-18:00 mon-fri'",
    )
    .option(
      '--count <n>',
      'fire only once N matching events arrive within --within (per user unless --per), then count again from zero',
    )
    .option('--within <duration>', 'with --count: the window, e.g. 90s, 10m, 2h, 1d (at most 30d)')
    .option(
      '--per <what>',
      'with --count: count per user (default), address, path, or rule (all events together)',
    )
    .option('--cron <expr>', "with --on schedule: when it fires, e.g. '0 3 * * *' (5 or 6 fields, croner)")
    .option('--hook-timeout <ms>', 'pre-* rules: longest wait for the answer (default 5000)')
    .option(
      '--on-hook-failure <policy>',
      'pre-* rules: deny or allow the operation when the hook fails or times out (default deny)',
    )
    .option('--max-attempts <n>', 'attempts before a delivery is dead-lettered (default 8)')
    .option(
      '--action <kind>',
      `${mode === 'set' ? 'replace the actions with ' : ''}one action: webhook, email, command, move, copy, rename, delete, sha256, run-job, retention, encrypt, decrypt`,
    )
    .option('--url <url>', 'webhook: http:// or https:// address the event is POSTed to')
    .option(
      '--secret-stdin',
      'webhook: read the signing secret from standard input: a whsec_ value is base64 of the key (Standard Webhooks); anything else is the key as given (UTF-8), at least 16 bytes',
    )
    .option(
      '--timeout <seconds>',
      'webhook or command: longest wait (default 10 for a webhook, 30 for a command)',
    )
    .option('--to <address>', 'email: recipient (repeatable)', collect)
    .option('--cc <address>', 'email: copy to (repeatable)', collect)
    .option(
      '--subject <template>',
      "email: subject (default names the event, user and path), e.g. '{{event}} by {{user}}'",
    )
    .option('--body <template>', 'email: body (default lists the event fields)')
    .option(
      '--argv <json>',
      `command: argv as a JSON array, e.g. '["/usr/local/bin/scan","{{path}}"]' (no shell)`,
    )
    .option('--command <path>', 'command: the program (absolute path); arguments with --arg')
    .option('--arg <template>', 'command: one argument (repeatable)', collect)
    .option(
      '--target <template>',
      "move, copy, rename, encrypt, decrypt: target virtual path, e.g. '{{dir}}/done/{{name}}'",
    )
    .option(
      '--run-as <user>',
      "file actions: whose home and permissions (default the event's user); retention: required",
    )
    .option('--job <name>', 'run-job: the transfer job to run (see ferry jobs list)')
    .option('--under <dir>', 'retention: the virtual directory swept')
    .option('--older-than-days <n>', 'retention: remove files older than this')
    .option('--keep-files <n>', 'retention: keep only the newest N files')
    .option('--move-to <dir>', 'retention: move files there instead of deleting them')
    .option('--dry-run', 'retention: report what would go, remove nothing')
    .option(
      '--encrypt-to <key>',
      'encrypt: OpenPGP recipient key, its name, fingerprint or key id (repeatable; see ferry keys pgp list)',
      collect,
    )
    .option('--sign-with <key>', 'encrypt: sign with this OpenPGP key (Ferry must hold its private half)')
    .option('--armor', 'encrypt: ASCII-armored output ({{path}}.asc instead of {{path}}.pgp)')
    .option('--verify <key>', 'decrypt: require a valid signature by this OpenPGP key (repeatable)', collect)
    .option(
      '--decrypt-with <key>',
      'decrypt: the private OpenPGP key that may decrypt (required; repeatable)',
      collect,
    )
    .option('--remove-source', 'encrypt, decrypt: remove the source file once the output is complete');
  if (mode === 'add') cmd.option('--disabled', 'store the rule switched off (ferry rules enable NAME later)');
  else {
    cmd.option(
      '--clear <fields>',
      'remove settings, comma-separated: path, user, group, protocol, size, status, source, time-window, count, cron, description, hook-timeout, on-hook-failure, max-attempts',
    );
  }
  return cmd;
}

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`${flag} must be a whole number, got '${value}'`, 2);
  return Number(value);
}

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `1500`, `10K`, `2M`, `1G` (1024-based). */
export function parseSize(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(value.trim());
  if (!m) throw new CliError(`${flag} must be a size like 1500, 10K, 2M or 1G, got '${value}'`, 2);
  return Number(m[1]) * (UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
}

const list = (value: string | undefined) =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

function timeWindow(value: string | undefined) {
  if (value === undefined) return undefined;
  try {
    return parseTimeWindow(value);
  } catch (err) {
    throw new CliError(`--time-window: ${(err as Error).message}`, 2);
  }
}

/**
 * The `count` condition the flags give: `--count` and `--within` together (on `set`, either one changes the
 * rule's count and keeps the rest); undefined when no count flag was given.
 */
function countFrom(f: RuleFlags, before?: RuleCount): Record<string, unknown> | undefined {
  if (f.count === undefined && f.within === undefined && f.per === undefined) return undefined;
  const atLeast = integer('--count', f.count) ?? before?.atLeast;
  const within = f.within ?? before?.within;
  if (atLeast === undefined)
    throw new CliError('--within and --per need --count N (how many events fire the rule)', 2);
  if (within === undefined) throw new CliError('--count needs --within, e.g. --within 10m', 2);
  const per = f.per ?? before?.per;
  return { atLeast, within, ...(per !== undefined ? { per } : {}) };
}

/** The conditions the flags set (absent flags: absent keys). */
function conditionsFrom(f: RuleFlags, before?: RuleCount): Record<string, unknown> {
  const c: Record<string, unknown> = {
    users: f.user,
    groups: f.group,
    paths: f.path,
    protocols: list(f.protocol),
    minSize: parseSize('--min-size', f.minSize),
    maxSize: parseSize('--max-size', f.maxSize),
    status: f.status,
    sources: f.source,
    timeWindow: timeWindow(f.timeWindow),
    count: countFrom(f, before),
  };
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
}

function argvFrom(f: RuleFlags): string[] | undefined {
  if (f.argv !== undefined) {
    if (f.command !== undefined || f.arg !== undefined) {
      throw new CliError('give either --argv or --command with --arg, not both', 2);
    }
    let argv: unknown;
    try {
      argv = JSON.parse(f.argv);
    } catch {
      throw new CliError(`--argv must be a JSON array of strings, e.g. '["/bin/echo","{{path}}"]'`, 2);
    }
    if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
      throw new CliError(`--argv must be a JSON array of strings, e.g. '["/bin/echo","{{path}}"]'`, 2);
    }
    return argv;
  }
  if (f.command !== undefined) return [f.command, ...(f.arg ?? [])];
  if (f.arg !== undefined) throw new CliError('--arg needs --command', 2);
  return undefined;
}

/** The action fields the flags give, for `kind` (fields not given are absent). */
function actionFields(kind: string, f: RuleFlags): Record<string, unknown> {
  const allowed = ACTION_FLAGS[kind];
  if (!allowed) {
    throw new CliError(`--action must be one of ${Object.keys(ACTION_FLAGS).join(', ')}, got '${kind}'`, 2);
  }
  const stray = ALL_ACTION_FLAGS.find((k) => f[k] !== undefined && !allowed.includes(k));
  if (stray) throw new CliError(`${flagName(stray)} is not used by --action ${kind}`, 2);
  const fields: Record<string, unknown> = {
    url: f.url,
    timeout: integer('--timeout', f.timeout),
    to: f.to,
    cc: f.cc,
    subject: f.subject,
    body: f.body,
    argv: argvFrom(f),
    target: f.target,
    user: f.runAs,
    job: f.job,
    path: f.under,
    olderThanDays: integer('--older-than-days', f.olderThanDays),
    keepFiles: integer('--keep-files', f.keepFiles),
    moveTo: f.moveTo,
    dryRun: f.dryRun,
    encryptTo: f.encryptTo,
    signWith: f.signWith,
    armor: f.armor,
    verifyWith: f.verify,
    decryptWith: f.decryptWith,
    removeSource: f.removeSource,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

function hookFields(f: RuleFlags): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    description: f.description,
    schedule: f.cron,
    hookTimeoutMs: integer('--hook-timeout', f.hookTimeout),
    onHookFailure: f.onHookFailure,
    maxAttempts: integer('--max-attempts', f.maxAttempts),
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/** `rules add NAME ...` as the service's input. */
export function ruleInputFromFlags(name: string, f: RuleFlags): Record<string, unknown> {
  if (f.on === undefined) throw new CliError('--on EVENT[,EVENT...] is required', 2);
  if (f.action === undefined) throw new CliError('--action KIND is required', 2);
  return {
    name,
    enabled: f.disabled !== true,
    events: list(f.on),
    conditions: conditionsFrom(f),
    actions: [{ kind: f.action, ...actionFields(f.action, f) }],
    ...hookFields(f),
  };
}

const CLEARABLE: Readonly<Record<string, string>> = {
  path: 'conditions.paths',
  user: 'conditions.users',
  group: 'conditions.groups',
  protocol: 'conditions.protocols',
  size: 'conditions.minSize,conditions.maxSize',
  status: 'conditions.status',
  source: 'conditions.sources',
  'time-window': 'conditions.timeWindow',
  count: 'conditions.count',
  cron: 'schedule',
  description: 'description',
  'hook-timeout': 'hookTimeoutMs',
  'on-hook-failure': 'onHookFailure',
  'max-attempts': 'maxAttempts',
};

/**
 * `rules set NAME ...` as a patch: condition flags replace that condition, `--clear` removes settings,
 * `--action` replaces the actions, and action flags without it change the rule's only action.
 */
export function rulePatchFromFlags(rule: RuleRecord, f: RuleFlags): RulePatch {
  const patch: Record<string, unknown> = { ...hookFields(f) };
  if (f.on !== undefined) patch.events = list(f.on);
  const conditions: Record<string, unknown> = conditionsFrom(f, rule.conditions.count);
  for (const name of list(f.clear) ?? []) {
    const fields = CLEARABLE[name];
    if (!fields)
      throw new CliError(`--clear: unknown '${name}'; one of ${Object.keys(CLEARABLE).join(', ')}`, 2);
    for (const field of fields.split(',')) {
      const [head, key] = field.split('.');
      if (key === undefined) patch[field] = null;
      else if (head === 'conditions') conditions[key] = null;
    }
  }
  if (Object.keys(conditions).length > 0) patch.conditions = conditions;
  if (f.action !== undefined) {
    patch.actions = [{ kind: f.action, ...actionFields(f.action, f) }];
  } else if (ALL_ACTION_FLAGS.some((k) => k !== 'secretStdin' && f[k] !== undefined)) {
    const only: RuleAction | undefined = rule.actions.length === 1 ? rule.actions[0] : undefined;
    if (!only) {
      throw new CliError(
        `rule ${rule.name} has ${rule.actions.length} actions; replace them with --action, or edit them in a file for ferry rules import`,
        2,
      );
    }
    const given = actionFields(only.kind, f);
    // New argv replaces the old one whole; other fields one by one.
    patch.actions = [{ ...only, ...given }];
  }
  return patch as RulePatch;
}
