// Runs the `ferry` command as a user would (the compiled bin/ferry.js in its own process) and collects what it printed.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const FERRY_BIN = join(import.meta.dirname, '..', '..', 'bin', 'ferry.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `ferry ARGS` with `input` on stdin; logs are silent unless `env` says otherwise. Never rejects. */
export function runFerry(
  args: readonly string[],
  input = '',
  env: NodeJS.ProcessEnv = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [FERRY_BIN, ...args],
      { env: { ...process.env, FERRY_LOG_LEVEL: 'silent', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}
