// Teardown helpers: how long a closing session waits for running requests, and how its channel is ended.
import type { Duplex } from 'node:stream';

/** How long teardown waits for requests already running in the core before closing the session anyway. */
export const TEARDOWN_GRACE_MS = 10_000;

/**
 * sshd reports the sftp-server process's exit status before closing the channel, and `scp` (SFTP mode)
 * fails without one ("Exit status -1"). ssh2's server Channel has exit(); other duplexes (tests) do not.
 */
export function sendExitStatus(channel: Duplex, status: number): void {
  const exit = (channel as Duplex & { exit?: (status: number) => void }).exit;
  if (typeof exit === 'function') exit.call(channel, status);
}

export function waitWithTimeout(promise: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    timer.unref?.();
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
