// Shared CLI plumbing: config from flags, stdin secrets, error exit codes.
import { loadConfig } from '../config/load.js';
import { ALGORITHM_PROFILES, type FerryConfig } from '../config/schema.js';
import type { AppContext } from '../context.js';
import type { DataDirAccess } from '../data-dir.js';
import { FerryError } from '../errors.js';
import { loggers } from '../logger.js';
import { Secret } from '../util/secret.js';

/** Exit codes: 1 for a failed operation, 2 for bad usage or configuration. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface DataDirOption {
  dataDir?: string;
  config?: string;
  /** `--store URL`: the store.url setting (sqlite:<path> or postgres://…). */
  store?: string;
}

/** The help of `--store`, the same on `serve` and every offline command. */
export const STORE_OPTION_HELP =
  'the store: sqlite:<path> or postgres://user@host:5432/db (default <data-dir>/ferry.db, env FERRY_STORE_URL; a password goes there, not on the command line)';

/** The help of `--algorithms` on Ferry's client commands (`ferry sftp`, `partners add|set`). */
export const CLIENT_ALGORITHMS_HELP =
  "SSH algorithms to offer: 'modern' (default: post-quantum kex first, no SHA-1, CBC or DSA) or 'compat' (adds NIST ECDH key exchange and ECDSA host keys, for servers that have nothing else)";

/** `--algorithms modern|compat`, checked before anything connects or is stored. */
export function algorithmsOption(value: string | undefined): (typeof ALGORITHM_PROFILES)[number] | undefined {
  if (value === undefined) return undefined;
  const profile = ALGORITHM_PROFILES.find((p) => p === value);
  if (!profile)
    throw new CliError(
      `--algorithms must be ${ALGORITHM_PROFILES.join(' or ')}, got '${value.slice(0, 40)}'`,
      2,
    );
  return profile;
}

export function configFromOptions(options: DataDirOption, flags: Record<string, unknown> = {}): FerryConfig {
  return loadConfig({
    file: options.config,
    flags: {
      dataDir: options.dataDir,
      ...(options.store !== undefined ? { store: { url: options.store } } : {}),
      ...flags,
    },
  });
}

/** Reads all of stdin; a single trailing newline (from echo or a terminal) is not part of the secret. */
export async function readSecretFromStdin(what: string): Promise<Secret<string>> {
  if (process.stdin.isTTY) process.stderr.write(`${what}: `);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new CliError(`empty ${what} on standard input`, 2);
  if (text.includes('\n')) throw new CliError(`${what} on standard input must be a single line`, 2);
  return new Secret(text);
}

/** What to do about a system error on a file, by errno: the fix, after the file's name. */
const SYSTEM_ERROR_FIXES: Readonly<Record<string, string>> = {
  EEXIST: 'already exists; remove it or choose another name',
  ENOENT: 'does not exist; check the path',
  ENOTDIR: 'is not a directory (or a part of the path is not); check the path',
  EISDIR: 'is a directory; give a file',
  EACCES: 'permission denied; check the owner and mode of the file and its directory',
  EPERM: 'operation not permitted; check the owner and mode of the file and its directory',
  EROFS: 'is on a read-only file system; use a writable location',
  ENOSPC: 'no space left on the device; free some space',
  EDQUOT: 'disk quota exceeded; free some space',
};

/** A Node.js system error (errno code and path) as one line naming the file and the fix; undefined otherwise. */
function describeSystemError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || typeof e.code !== 'string') return undefined;
  const fix = SYSTEM_ERROR_FIXES[e.code];
  if (!fix) return undefined;
  return e.path ? `${e.path}: ${fix}` : `${e.code}: ${fix}`;
}

export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof FerryError) return { message: err.message, exitCode: err.code === 'ERR_CONFIG' ? 2 : 1 };
  const system = describeSystemError(err);
  if (system) return { message: system, exitCode: 1 };
  const message = err instanceof Error ? err.message : String(err);
  // Errors are reported as one line; a multi-line message keeps its first.
  return { message: message.split('\n')[0] ?? message, exitCode: 1 };
}

/** `| head` closes stdout early: the command ends quietly (exit 0) instead of with an EPIPE stack. */
export function quietOnClosedStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`ferry: cannot write output: ${err.message}\n`);
    process.exit(1);
  });
}

/**
 * Runs one offline command against an initialised data dir's store, closing it afterwards whatever happens.
 * `access` 'read' opens the store read-only (commands that only print).
 */
export async function withContext<T>(
  options: DataDirOption,
  run: (ctx: AppContext) => Promise<T>,
  access: Exclude<DataDirAccess, 'create'> = 'write',
): Promise<T> {
  // Loaded here, not at the top: the store and everything behind it load only when a command opens it
  // (`ferry serve`'s primary, which only supervises, never does).
  const { AppContext } = await import('../context.js');
  const ctx = await AppContext.create(configFromOptions(options), access);
  // A change made here (users add, jobs run) reaches rules on admin events: its deliveries are stored before
  // the command returns, and a serving process delivers them.
  const outbox =
    access === 'write'
      ? await import('../automation/attach.js').then(({ attachRuleOutbox }) =>
          attachRuleOutbox({ store: ctx.store, events: ctx.events, log: loggers.automation }),
        )
      : undefined;
  try {
    return await run(ctx);
  } finally {
    await outbox?.close();
    await ctx.dispose();
  }
}

/** `withContext` for commands that only read: works on a read-only data dir (a mounted backup). */
export function withReadOnlyContext<T>(
  options: DataDirOption,
  run: (ctx: AppContext) => Promise<T>,
): Promise<T> {
  return withContext(options, run, 'read');
}
