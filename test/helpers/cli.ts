// Runs the `ferry` command as a user would (the compiled bin/ferry.js in its own process) and collects what it printed.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const FERRY_BIN = join(import.meta.dirname, '..', '..', 'bin', 'ferry.js');

/**
 * How long one command may run before the test fails: generous, because the machine may be busy, but finite, so a
 * command that hangs (a Node 20 key-generation deadlock was seen once) fails its test with a message instead of
 * stalling the whole suite. FERRY_TEST_CLI_TIMEOUT_MS overrides it.
 */
const TIMEOUT_MS = Number(process.env.FERRY_TEST_CLI_TIMEOUT_MS) || 60_000;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `ferry ARGS` with `input` on stdin; logs are silent unless `env` says otherwise. Resolves with the exit code
 * and output, whatever the code; rejects only when the command outlived the timeout (it is then killed), so a
 * test expecting a failure cannot pass on a hang.
 */
export function runFerry(
  args: readonly string[],
  input = '',
  env: NodeJS.ProcessEnv = {},
  { timeoutMs = TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [FERRY_BIN, ...args],
      {
        env: { ...process.env, FERRY_LOG_LEVEL: 'silent', ...env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs,
        // A deadlocked process may never run a SIGTERM handler.
        killSignal: 'SIGKILL',
      },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) {
          const tail = stderr.trim().split('\n').slice(-5).join('\n');
          reject(
            new Error(
              `ferry ${args.join(' ')} did not finish within ${timeoutMs / 1000} s and was killed` +
                (tail ? `; its last stderr lines:\n${tail}` : ' (no stderr)'),
            ),
          );
          return;
        }
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input);
  });
}
