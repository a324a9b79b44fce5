// File actions (move, copy, rename, delete, sha256 side file) through the core, as the event's user.
import { posix } from 'node:path';
import type { FileSession, OpenMode } from '../../core/types.js';
import { FerryError, InvalidArgumentError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { EventFields } from '../event-names.js';
import { baseName, renderTemplate } from '../template.js';
import type {
  ActionOutcome,
  ActionRunner,
  DeliveryRecord,
  FileAction,
  PgpDecryptAction,
  PgpEncryptAction,
} from '../types.js';
import { failedOutcome, openRuleSession, type UserSessionDeps } from './user-session.js';

export const READ: OpenMode = {
  read: true,
  write: false,
  append: false,
  create: false,
  truncate: false,
  exclusive: false,
};
export const WRITE: OpenMode = {
  read: false,
  write: true,
  append: false,
  create: true,
  truncate: true,
  exclusive: false,
};

export interface FileRunnerDeps extends UserSessionDeps {
  readonly log: Logger;
}

type FileKind = FileAction['kind'];
/** What an action does to the event's file in a session as the user; its text is the delivery's output. */
export type Step<A> = (
  session: FileSession,
  source: string,
  action: A,
  fields: EventFields,
  signal: AbortSignal,
) => Promise<string>;

/**
 * A runner for an action on the event's file (the file actions here, encrypt and decrypt in pgp.ts): it opens a
 * core session as the action's `user` (default: the event's), runs `step`, and closes the session whatever
 * happens, which aborts what a failed step left open, so a half-written output never becomes visible.
 */
export function fileEventRunner<A extends FileAction | PgpEncryptAction | PgpDecryptAction>(
  deps: UserSessionDeps,
  kind: A['kind'],
  step: Step<A>,
): ActionRunner<A> {
  return {
    kind,
    async run(action, delivery, context): Promise<ActionOutcome> {
      const fields = delivery.fields as EventFields;
      const source = subjectPath(delivery);
      if (!source) return { ok: false, permanent: true, error: 'the event names no file (no path)' };
      let session: FileSession;
      try {
        session = await openRuleSession(
          deps,
          action.user ?? fields.user,
          context.rule.name,
          delivery.id,
          fields.sessionId,
        );
      } catch (err) {
        return failedOutcome(err, 'cannot act as the user');
      }
      try {
        return { ok: true, output: await step(session, source, action, fields, context.signal) };
      } catch (err) {
        return failedOutcome(err, `${kind} ${source}`);
      } finally {
        await session.close();
      }
    },
  };
}

/**
 * One runner per file action kind, for the registry (kind → runner). Each opens a core session as the
 * action's `user` (default: the event's), so the user's permissions, the home jail, atomic uploads, events
 * and audit apply exactly as for the user's own client; the session's id marks its events as this rule's
 * (rule-session.ts), so a move never triggers the rule that moved.
 */
export function createFileRunners(deps: FileRunnerDeps): {
  readonly [K in FileKind]: ActionRunner<FileAction>;
} {
  const runner = (kind: FileKind, step: Step<FileAction>) => fileEventRunner<FileAction>(deps, kind, step);
  return {
    move: runner('move', (s, source, action, fields) =>
      move(s, source, targetOf(action, fields, source, 'path'), true),
    ),
    rename: runner('rename', (s, source, action, fields) =>
      move(s, source, targetOf(action, fields, source, 'name'), false),
    ),
    copy: runner('copy', (s, source, action, fields, signal) =>
      copy(s, source, targetOf(action, fields, source, 'path'), signal),
    ),
    delete: runner('delete', remove),
    sha256: runner('sha256', (s, source, _action, _fields, signal) => writeChecksum(s, source, signal)),
  };
}

/** The file an event is about: a rename's new name, otherwise its path. */
export function subjectPath(delivery: DeliveryRecord): string | undefined {
  const { path, target } = delivery.fields;
  return delivery.eventName === 'rename' && target ? target : path;
}

/**
 * The target a template names, as a virtual path. Field values become single segments (`path-segment`
 * escaping: a `/` or `..` in a file name cannot climb), `{{path}}` keeps its own slashes; a relative result
 * is taken from the source's directory, a trailing `/` appends the source's name. `..` is resolved here and
 * the core's jail keeps the result inside the home whatever it says. `rename` takes one name.
 */
export function targetOf(
  action: { readonly kind: string; readonly target?: string },
  fields: EventFields,
  source: string,
  shape: 'path' | 'name',
): string {
  if (!action.target) throw new InvalidArgumentError(`a ${action.kind} action needs a target template`);
  const rendered = renderTemplate(action.target, fields, 'path-segment');
  if (rendered === '') throw new InvalidArgumentError('the target template rendered empty');
  if (shape === 'name' && rendered.includes('/')) {
    throw new InvalidArgumentError(`rename takes a new name, not a path ('${rendered}'); use move`);
  }
  const joined = rendered.startsWith('/') ? rendered : posix.join(posix.dirname(source), rendered);
  const target = posix.normalize(rendered.endsWith('/') ? posix.join(joined, baseName(source)) : joined);
  return posix.resolve('/', target);
}

export async function exists(session: FileSession, path: string): Promise<boolean> {
  try {
    await session.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof FerryError && err.code === 'ERR_NOT_FOUND') return false;
    throw err;
  }
}

/** Creates the missing directories above `path`, each through the core (create_dirs permission). */
export async function makeParents(session: FileSession, path: string): Promise<void> {
  const missing: string[] = [];
  for (
    let dir = posix.dirname(path);
    dir !== '/' && !(await exists(session, dir));
    dir = posix.dirname(dir)
  ) {
    missing.unshift(dir);
  }
  for (const dir of missing) await session.mkdir(dir);
}

/** Never replaces a file. A retry after a move that went through (at least once) finds it done. */
async function move(session: FileSession, source: string, target: string, parents: boolean): Promise<string> {
  if (source === target) return `${source} is already there`;
  if (!(await exists(session, source)) && (await exists(session, target))) {
    return `${source} was already moved to ${target}`;
  }
  if (parents) await makeParents(session, target);
  await session.rename(source, target, { overwrite: false });
  return `moved ${source} to ${target}`;
}

/** A server-side copy into the target's partial, visible under its name only once complete (atomic uploads). */
async function copy(
  session: FileSession,
  source: string,
  target: string,
  signal: AbortSignal,
): Promise<string> {
  if (source === target) throw new InvalidArgumentError('a copy onto itself');
  await makeParents(session, target);
  const from = await session.openFile(source, READ);
  const to = await session.openFile(target, WRITE);
  await session.copyData(from, 0, 0, to, 0, { signal });
  await to.close();
  await from.close();
  return `copied ${source} to ${target}`;
}

async function remove(session: FileSession, source: string): Promise<string> {
  if (!(await exists(session, source))) return `${source} was already gone`;
  await session.remove(source);
  return `deleted ${source}`;
}

/** Writes `<path>.sha256` in `sha256sum` format (`<hex>  <name>`), so `sha256sum -c` checks it in its folder. */
async function writeChecksum(session: FileSession, source: string, signal: AbortSignal): Promise<string> {
  const file = await session.openFile(source, READ);
  const [digest] = await file.checksum(
    { algorithm: 'sha256', offset: 0, length: 0, blockSize: 0 },
    { signal },
  );
  await file.close();
  const name = baseName(source);
  // As sha256sum writes a name holding a newline or backslash: escaped, the line marked with a leading '\'.
  const escaped = name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  const line = `${escaped === name ? '' : '\\'}${digest!.toString('hex')}  ${escaped}\n`;
  const side = await session.openFile(`${source}.sha256`, WRITE);
  await side.write(0, Buffer.from(line));
  await side.close();
  return `wrote ${source}.sha256: ${line.trim()}`;
}
