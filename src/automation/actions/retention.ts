// The retention action: under a user's path, files past an age or beyond the newest N are deleted or moved.
import { posix } from 'node:path';
import type { FileSession } from '../../core/types.js';
import { FerryError, InvalidArgumentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { EventFields } from '../event-names.js';
import type { ActionOutcome, ActionRunner, RetentionAction } from '../types.js';
import { failedOutcome, openRuleSession, type UserSessionDeps } from './user-session.js';

const DAY_MS = 86_400_000;
/** Names listed in a report; the counts cover all of them. */
const REPORT_MAX_NAMES = 50;
const REPORT_MAX_ERRORS = 5;

export interface RetentionRunnerDeps extends UserSessionDeps {
  readonly log: Logger;
  /** Told each finished sweep, with the session it ran in (the server emits it as a `retention-swept` event). */
  readonly onReport?: (
    report: RetentionReport,
    action: RetentionAction,
    rule: string,
    sessionId: string,
  ) => void;
  /** For tests: the clock ages are measured against. */
  readonly now?: () => number;
}

interface Candidate {
  readonly path: string;
  readonly size: number;
  /** Milliseconds since the epoch. */
  readonly mtime: number;
}

/** What a sweep did (or, in a dry run, would do). */
export interface RetentionReport {
  readonly dryRun: boolean;
  readonly removed: number;
  readonly bytes: number;
  readonly names: string[];
  readonly kept: number;
  readonly failed: number;
  /** The first few failures. */
  readonly errors: string[];
}

/**
 * A sweep of `action.path` (and its subfolders) as `action.user`, through the core: the user's permissions,
 * the home jail and the audit trail apply, and every delete or move is the core's own event, in the rule's
 * session (so it never fires the rule again). A file goes when it meets every limit given: older than
 * `olderThanDays`, and not among the newest `keepFiles` (counted over all files under the path, young ones
 * too); with one limit, that one decides. Only regular files go; folders stay. `moveTo` keeps the path below
 * `action.path`; inside it, it is not swept itself. A dry run changes nothing and reports what would go. The outcome's
 * output is the report (counts, bytes, the first names), failed when any file could not be handled.
 */
export function createRetentionRunner(deps: RetentionRunnerDeps): ActionRunner<RetentionAction> {
  return {
    kind: 'retention',
    async run(action, delivery, context) {
      if (action.olderThanDays === undefined && action.keepFiles === undefined) {
        return { ok: false, permanent: true, error: 'retention needs olderThanDays or keepFiles' };
      }
      const fields = delivery.fields as EventFields;
      let session: FileSession;
      try {
        session = await openRuleSession(deps, action.user, context.rule.name, delivery.id, fields.sessionId);
      } catch (err) {
        return failedOutcome(err, 'cannot act as the user');
      }
      try {
        const report = await sweep(session, action, (deps.now ?? Date.now)(), context.signal);
        deps.onReport?.(report, action, context.rule.name, session.identity.sessionId);
        deps.log.info(
          { rule: context.rule.name, delivery: delivery.id, ...report, names: undefined },
          'retention sweep',
        );
        return outcomeOf(report);
      } catch (err) {
        return failedOutcome(err, `retention of ${action.path}`);
      } finally {
        await session.close();
      }
    },
  };
}

export async function sweep(
  session: FileSession,
  action: RetentionAction,
  now: number,
  signal: AbortSignal,
): Promise<RetentionReport> {
  const root = posix.resolve('/', action.path);
  const moveTo = action.moveTo === undefined ? undefined : posix.resolve('/', action.moveTo);
  if (moveTo === root) throw new InvalidArgumentError(`moveTo is the swept path ${root} itself`);
  const cutoff = action.olderThanDays === undefined ? undefined : now - action.olderThanDays * DAY_MS;
  const keep = action.keepFiles;
  const dryRun = action.dryRun === true;
  const report = {
    dryRun,
    removed: 0,
    bytes: 0,
    names: [] as string[],
    kept: 0,
    failed: 0,
    errors: [] as string[],
  };
  // The newest `keep` files seen so far, newest first; a file pushed out is beyond them for good.
  const newest: Candidate[] = [];
  const consider = async (file: Candidate): Promise<void> => {
    if (keep !== undefined) {
      const evicted = admit(newest, file, keep);
      if (evicted === undefined) return;
      file = evicted;
    }
    if (cutoff !== undefined && file.mtime >= cutoff) {
      report.kept++;
      return;
    }
    await act(file);
  };
  const act = async (file: Candidate): Promise<void> => {
    try {
      if (!dryRun) {
        if (moveTo === undefined) await session.remove(file.path);
        else await moveInto(session, file.path, posix.join(moveTo, posix.relative(root, file.path)));
      }
      report.removed++;
      report.bytes += file.size;
      if (report.names.length < REPORT_MAX_NAMES) report.names.push(file.path);
    } catch (err) {
      report.failed++;
      if (report.errors.length < REPORT_MAX_ERRORS)
        report.errors.push(`${file.path}: ${(err as Error).message}`);
    }
  };
  for await (const file of walk(session, root, moveTo, signal)) await consider(file);
  report.kept += newest.length;
  return report;
}

/** Inserts `file` into the newest-first list of at most `limit`; returns the file that fell off, if any. */
function admit(newest: Candidate[], file: Candidate, limit: number): Candidate | undefined {
  let at = newest.findIndex((c) => c.mtime < file.mtime);
  if (at < 0) at = newest.length;
  if (at >= limit) return file;
  newest.splice(at, 0, file);
  return newest.length > limit ? newest.pop() : undefined;
}

/** Regular files under `dir`, depth first, one directory's batch at a time; `skip` (the move target) left out. */
async function* walk(
  session: FileSession,
  dir: string,
  skip: string | undefined,
  signal: AbortSignal,
): AsyncGenerator<Candidate> {
  const subdirs: string[] = [];
  const handle = await session.openDir(dir);
  try {
    for (let batch = await handle.read(); batch !== null; batch = await handle.read()) {
      signal.throwIfAborted();
      // In name order within a batch, so reports read alike from one run to the next.
      for (const entry of batch.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        if (entry.name === '.' || entry.name === '..') continue;
        const path = posix.join(dir, entry.name);
        if (entry.stat.kind === 'directory') {
          if (path !== skip) subdirs.push(path);
        } else if (entry.stat.kind === 'file') {
          yield { path, size: entry.stat.size, mtime: entry.stat.mtime * 1000 };
        }
      }
    }
  } finally {
    await handle.close();
  }
  for (const sub of subdirs) yield* walk(session, sub, skip, signal);
}

async function moveInto(session: FileSession, from: string, to: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = posix.dirname(to); dir !== '/'; dir = posix.dirname(dir)) {
    try {
      await session.lstat(dir);
      break;
    } catch (err) {
      if (!(err instanceof FerryError && err.code === 'ERR_NOT_FOUND')) throw err;
      missing.unshift(dir);
    }
  }
  for (const dir of missing) await session.mkdir(dir);
  await session.rename(from, to, { overwrite: false });
}

/** The report as an outcome; its text is bounded (at most 50 names, 5 errors). */
function outcomeOf(report: RetentionReport): ActionOutcome {
  const verb = report.dryRun ? 'would remove' : 'removed';
  const lines = [
    `${report.dryRun ? 'dry run: ' : ''}${verb} ${report.removed} files (${report.bytes} bytes), kept ${report.kept}`,
    ...report.names,
    ...(report.removed > report.names.length ? [`… and ${report.removed - report.names.length} more`] : []),
    ...report.errors.map((e) => `failed: ${e}`),
    ...(report.failed > report.errors.length
      ? [`… and ${report.failed - report.errors.length} more failures`]
      : []),
  ];
  const output = lines.join('\n');
  return report.failed > 0
    ? { ok: false, output, error: `${report.failed} files could not be handled` }
    : { ok: true, output };
}
