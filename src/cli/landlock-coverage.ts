// Directories the store names after a serving process was confined that its Landlock rules do not reach: a user
// added with a home outside the data dir while the server runs, or a folder or pull job's directory added later.

/*
 * Landlock cannot be widened once in force, so a process that started before such a change can never serve it.
 * Each serving process watches for one; under `serve --workers N` the primary then replaces its workers one by
 * one with new ones, whose rules are made from the store as it is now (worker-renewal.ts); a single process can
 * only say that it needs a restart.
 */

import type { AuditRepository } from '../store/audit-types.js';

/** Whether a read-write rule on one of `writable` reaches `path` (Landlock rules cover what lies beneath). */
function reached(path: string, writable: readonly string[]): boolean {
  return writable.some((dir) => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`));
}

/** Those of `paths` that no rule reaches and that are not in `known` (already served or already reported). */
export function unreachable(
  paths: readonly string[],
  writable: readonly string[],
  known: ReadonlySet<string>,
): string[] {
  return [...new Set(paths)].filter((path) => !known.has(path) && !reached(path, writable));
}

export interface CoverageWatchOptions {
  readonly audit: Pick<AuditRepository, 'latest'>;
  /** The directories the store names now (process-hardening.ts servedDirs). */
  readonly served: () => Promise<readonly string[]>;
  /** The read-write rules in force; empty when Landlock is not: then nothing is watched. */
  readonly writable: readonly string[];
  /** What this process was started for, its rules or not (one it could not make is not asked for again). */
  readonly startedFor: readonly string[];
  readonly intervalMs: number;
  /** Called once per new directory out of reach. */
  readonly onUnreachable: (paths: readonly string[]) => void;
  readonly onError: (err: unknown) => void;
}

/**
 * Checks every `intervalMs` whether an admin change since the last check named a directory out of reach; the
 * first check always reads the store (a change between hardening and this start would otherwise be missed).
 * Returns the function that stops it.
 */
export function watchLandlockCoverage(o: CoverageWatchOptions): () => void {
  if (o.writable.length === 0) return () => {};
  const known = new Set(o.startedFor);
  let seen: number | undefined;
  let busy = false;
  const check = async () => {
    // Every admin change is audited, whichever process made it (the CLI, the API, another node): the newest admin
    // record tells whether anything changed since the last check; only then is the store read (a user's home
    // comes from the user, or from a group's template; folders and jobs have their own).
    const newest = (await o.audit.latest('admin'))?.seq ?? 0;
    if (newest === seen) return;
    seen = newest;
    const fresh = unreachable(await o.served(), o.writable, known);
    for (const path of fresh) known.add(path);
    if (fresh.length > 0) o.onUnreachable(fresh);
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    check()
      .catch(o.onError)
      .finally(() => {
        busy = false;
      });
  }, o.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
