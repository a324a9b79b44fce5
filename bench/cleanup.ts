// Tracks what the benchmark started (process groups, clients, temp dirs) and removes it all on exit, failure or signal.
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';

interface TrackedProcess {
  readonly child: ChildProcess;
  /** Started detached: the whole process group (a server and its workers or per-connection children) is signalled. */
  readonly group: boolean;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(exited(child)), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function signal(entry: TrackedProcess, sig: NodeJS.Signals): void {
  const pid = entry.child.pid;
  if (pid === undefined) return;
  try {
    if (entry.group) process.kill(-pid, sig);
    else if (!exited(entry.child)) entry.child.kill(sig);
  } catch {
    // Already gone (ESRCH): nothing left to stop.
  }
}

export class Cleanup {
  readonly #processes = new Set<TrackedProcess>();
  readonly #dirs: string[] = [];
  readonly #tasks: Array<() => Promise<void>> = [];
  #ran: Promise<void> | undefined;

  /** Remembers a child until it exits; `group` when it was spawned detached and may have children of its own. */
  process(child: ChildProcess, group = false): ChildProcess {
    const entry = { child, group };
    this.#processes.add(entry);
    // A group outlives its leader (sshd's per-connection children), so groups stay tracked until cleanup.
    if (!group) child.once('exit', () => this.#processes.delete(entry));
    return child;
  }

  dir(path: string): string {
    this.#dirs.push(path);
    return path;
  }

  task(run: () => Promise<void>): void {
    this.#tasks.push(run);
  }

  /** Stops one tracked process (group): SIGTERM, then SIGKILL after `graceMs`. */
  async stop(child: ChildProcess, graceMs = 5000): Promise<void> {
    const entry = [...this.#processes].find((e) => e.child === child);
    if (!entry) return;
    signal(entry, 'SIGTERM');
    if (!(await waitExit(child, graceMs))) signal(entry, 'SIGKILL');
    await waitExit(child, 2000);
    // Whatever is left of the group (connections still closing) goes too.
    if (entry.group) signal(entry, 'SIGKILL');
    this.#processes.delete(entry);
  }

  /** Idempotent: every later call waits for the first one. */
  run(): Promise<void> {
    this.#ran ??= this.#runOnce();
    return this.#ran;
  }

  async #runOnce(): Promise<void> {
    for (const entry of [...this.#processes].filter((e) => !e.group)) signal(entry, 'SIGKILL');
    await Promise.all([...this.#processes].filter((e) => e.group).map((e) => this.stop(e.child, 3000)));
    for (const task of this.#tasks.reverse()) {
      try {
        await task();
      } catch (err) {
        process.stderr.write(`cleanup step failed: ${String(err)}\n`);
      }
    }
    for (const dir of this.#dirs.reverse()) await rm(dir, { recursive: true, force: true });
  }
}
