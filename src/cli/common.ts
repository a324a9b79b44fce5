// Shared CLI plumbing: config from flags, stdin secrets, error exit codes.
import { loadConfig } from '../config/load.js';
import type { FerryConfig } from '../config/schema.js';
import { AppContext } from '../context.js';
import { FerryError } from '../errors.js';
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
}

export function configFromOptions(options: DataDirOption, flags: Record<string, unknown> = {}): FerryConfig {
  return loadConfig({ file: options.config, flags: { dataDir: options.dataDir, ...flags } });
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

export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof FerryError) return { message: err.message, exitCode: err.code === 'ERR_CONFIG' ? 2 : 1 };
  return { message: err instanceof Error ? err.message : String(err), exitCode: 1 };
}

/** Runs one offline command against the data dir's store, closing it afterwards whatever happens. */
export async function withContext<T>(
  options: DataDirOption,
  run: (ctx: AppContext) => Promise<T>,
): Promise<T> {
  const ctx = await AppContext.create(configFromOptions(options));
  try {
    return await run(ctx);
  } finally {
    await ctx.dispose();
  }
}
