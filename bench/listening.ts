// Waits for a bench server's stdout to say that it listens; every server the bench starts prints such a line.
import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the first match of `pattern` in `child`'s stdout; rejects when the child exits first or after
 * `timeoutMs`, with what it printed (and `hint`, where its log is). Its stdout is drained from then on, so the
 * server never blocks on a full pipe.
 */
export function awaitListening(
  child: ChildProcess,
  pattern: RegExp,
  what: string,
  options: { timeoutMs?: number; hint?: string } = {},
): Promise<RegExpExecArray> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const hint = options.hint ? `; ${options.hint}` : '';
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) done(() => resolve(match));
    };
    const onExit = (code: number | null) =>
      done(() => reject(new Error(`${what} exited (${code}) before listening${hint}; output:\n${seen}`)));
    const timer = setTimeout(
      () =>
        done(() =>
          reject(new Error(`${what} did not listen in ${timeoutMs / 1000} s${hint}; output:\n${seen}`)),
        ),
      timeoutMs,
    );
    const done = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      child.stdout!.resume();
      settle();
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}
