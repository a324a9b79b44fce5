// Runs store child-process fixtures side by side: all start together once all are ready; returns their results.
import { fork } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Forks `child` once per argument list, says "go" when all are ready, and resolves with each one's last message. */
export async function runChildrenTogether(
  t: TestContext,
  child: string,
  argLists: readonly string[][],
): Promise<unknown[]> {
  const procs = argLists.map((args) => {
    const proc = fork(child, args, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    t.after(() => proc.kill('SIGKILL'));
    return proc;
  });
  const ready = procs.map((proc) => new Promise((resolve) => proc.once('message', resolve)));
  const runs = procs.map(
    (proc, i) =>
      new Promise<unknown>((resolve, reject) => {
        let last: unknown;
        let stderr = '';
        proc.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        proc.on('message', (m) => {
          last = m;
        });
        proc.on('error', reject);
        proc.on('exit', (code) =>
          code === 0
            ? resolve(last)
            : reject(new Error(`child ${i} exited with ${code}: ${stderr.slice(-2000)}`)),
        );
      }),
  );
  await Promise.all(ready);
  for (const proc of procs) proc.send('go');
  return Promise.all(runs);
}
