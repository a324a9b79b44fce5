// The command action: a program run with an argv array (never a shell), the event in FERRY_* variables, bounded.
import { spawn } from 'node:child_process';
import { isAbsolute } from 'node:path';
import type { Logger } from '../../logger.js';
import type { EventFields } from '../event-names.js';
import { renderTemplate } from '../template.js';
import type { ActionOutcome, ActionRunner, CommandAction } from '../types.js';

export const DEFAULT_COMMAND_TIMEOUT_S = 30;
/** Output kept per run (stdout and stderr as they come); the rest is read and counted, never held. */
export const COMMAND_OUTPUT_LIMIT = 4096;
/** After SIGTERM, how long a command may take to end before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** Variables of the server's environment a command sees; nothing else (FERRY_MASTER_KEY, FERRY_SMTP_PASSWORD). */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'] as const;

export const COMMANDS_OFF_ERROR =
  'command actions are off: the operator must set rules.commands (FERRY_RULES_COMMANDS=true) to allow them';

export interface CommandResult {
  /** Exit status; undefined when the command was ended by a signal (or could not start). */
  readonly exitCode: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  readonly timedOut: boolean;
  /** Why the program could not start (ENOENT, EACCES), when it did not. */
  readonly spawnError: string | undefined;
  readonly output: string;
  readonly durationMs: number;
}

/** `remoteAddress` → `FERRY_REMOTE_ADDRESS`. */
export function envNameOfField(field: string): string {
  return `FERRY_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** The command's environment: a few of the server's variables, then every event field as FERRY_<FIELD>. */
export function commandEnvironment(
  fields: EventFields,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [field, value] of Object.entries(fields)) {
    if (value !== undefined) env[envNameOfField(field)] = value.replaceAll('\0', '');
  }
  return { ...env, ...extra };
}

/**
 * Runs `argv` without a shell (spawn, like execFile, passes each element as one argument; streamed so that
 * output is bounded while it is produced). The program leads its own process group, so a timeout or abort
 * ends it with everything it started: SIGTERM, then SIGKILL after a grace period.
 */
export function runCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  options: {
    readonly timeoutMs: number;
    readonly signal?: AbortSignal | undefined;
    /** After SIGTERM, how long before SIGKILL (default 2 s; a pre-operation hook waits less). */
    readonly killGraceMs?: number;
  },
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let droppedBytes = 0;
    let timedOut = false;
    let spawnError: string | undefined;
    const child = spawn(argv[0]!, argv.slice(1), {
      env,
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      shell: false,
    });
    const take = (chunk: Buffer) => {
      const room = COMMAND_OUTPUT_LIMIT - keptBytes;
      if (room > 0) {
        // A copy, so the kept bytes do not pin the whole 64 KiB chunk they came in.
        const part = Buffer.from(chunk.subarray(0, room));
        kept.push(part);
        keptBytes += part.length;
      }
      droppedBytes += Math.max(0, chunk.length - Math.max(room, 0));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // Already gone.
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), options.killGraceMs ?? KILL_GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      spawnError = err.message;
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', stop);
      // Whatever the program left running in its group goes with it.
      killGroup('SIGKILL');
      let output = Buffer.concat(kept).toString('utf8');
      if (droppedBytes > 0) output += `\n[… ${droppedBytes} more bytes of output not kept]`;
      resolve({
        exitCode: code ?? undefined,
        signal: sig ?? undefined,
        timedOut,
        spawnError,
        output,
        durationMs: Math.round(performance.now() - started),
      });
    });
  });
}

/** The argv a rule's command runs for an event: argv[0] as written (never chosen by event data), then templates. */
export function renderArgv(argv: readonly string[], fields: EventFields): string[] {
  const [program = '', ...args] = argv;
  return [program, ...args.map((a) => renderTemplate(a, fields, 'argv').replaceAll('\0', ''))];
}

export interface CommandRunnerDeps {
  /** config `rules.commands`. */
  readonly enabled: boolean;
  readonly log: Logger;
}

export function createCommandRunner(deps: CommandRunnerDeps): ActionRunner<CommandAction> {
  return {
    kind: 'command',
    async run(action, delivery, context) {
      if (!deps.enabled) return { ok: false, permanent: true, error: COMMANDS_OFF_ERROR };
      const argv = renderArgv(action.argv, delivery.fields as EventFields);
      if (!isAbsolute(argv[0] ?? '')) {
        return {
          ok: false,
          permanent: true,
          error: `the program must be an absolute path, not '${argv[0]}'`,
        };
      }
      const timeoutS = action.timeout ?? DEFAULT_COMMAND_TIMEOUT_S;
      const env = commandEnvironment(delivery.fields as EventFields, {
        FERRY_RULE: context.rule.name,
        FERRY_DELIVERY_ID: delivery.id,
      });
      const result = await runCommand(argv, env, { timeoutMs: timeoutS * 1000, signal: context.signal });
      deps.log.debug(
        { rule: context.rule.name, delivery: delivery.id, exitCode: result.exitCode, ms: result.durationMs },
        'command finished',
      );
      return outcomeOf(result, timeoutS);
    },
  };
}

function outcomeOf(result: CommandResult, timeoutS: number): ActionOutcome {
  const base = {
    ...(result.exitCode !== undefined ? { responseCode: result.exitCode } : {}),
    output: result.output,
  };
  if (result.spawnError !== undefined) {
    // A missing or non-executable program stays missing on retry.
    return { ...base, ok: false, permanent: true, error: `cannot run: ${result.spawnError}` };
  }
  if (result.timedOut) return { ...base, ok: false, error: `timed out after ${timeoutS} s (killed)` };
  if (result.signal !== undefined) return { ...base, ok: false, error: `ended by ${result.signal}` };
  if (result.exitCode !== 0) return { ...base, ok: false, error: `exit status ${result.exitCode}` };
  return { ...base, ok: true };
}
