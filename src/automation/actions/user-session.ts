// Opens a core file session as a user on a rule's behalf: the only way actions touch a user's files.
import { join } from 'node:path';
import { sessionLimitsOf } from '../../core/session-limits.js';
import type { FileSession, FileSessionFactory } from '../../core/types.js';
import { FerryError, NotFoundError, PermissionDeniedError } from '../../errors.js';
import type { UserRepository } from '../../store/types.js';
import { ruleSessionId } from '../rule-session.js';
import type { ActionOutcome } from '../types.js';

export interface UserSessionDeps {
  readonly users: Pick<UserRepository, 'findByName'>;
  /** Where default homes live (`AppContext.paths.homes`). */
  readonly homesDir: string;
  /** `AppContext.fileSessions`: permissions, the home jail, atomic writes, events and audit all apply. */
  readonly fileSessions: FileSessionFactory;
}

/**
 * A session of `userName` for rule `ruleName` acting on delivery `deliveryId`, whose event came from session
 * `cause` (its id continues the rule chain, see rule-session.ts). A missing or disabled user is refused.
 */
export async function openRuleSession(
  deps: UserSessionDeps,
  userName: string | undefined,
  ruleName: string,
  deliveryId: string,
  cause?: string,
): Promise<FileSession> {
  if (!userName) throw new NotFoundError('the event names no user and the action sets none (user: NAME)');
  const user = await deps.users.findByName(userName);
  if (!user) throw new NotFoundError(`no user named ${userName}`);
  if (user.disabled) throw new PermissionDeniedError(`user ${userName} is disabled`);
  return deps.fileSessions({
    sessionId: ruleSessionId(ruleName, deliveryId, cause),
    username: user.name,
    virtualId: user.id,
    // As auth/user-admin.ts's homeDirOf (a module automation/ does not import): the record's, or the default.
    homeDir: user.homeDir ?? join(deps.homesDir, user.name),
    permissions: user.permissions,
    // Read with the user just above: the session's OpenPGP layer need not read the user again.
    pgpPolicies: user.pgpPolicies,
    // A rule writing into a home counts against its owner's quota and limits, as the user's own sessions do.
    ...sessionLimitsOf(user),
    remoteAddress: '',
    protocol: 'rule',
  });
}

/**
 * A failed file operation as an outcome. Refusals and missing files do not heal by retrying (the operator
 * changes the rule or the permissions, then `ferry rules redeliver`); I/O failures are retried.
 */
export function failedOutcome(err: unknown, what: string): ActionOutcome {
  const code = err instanceof FerryError ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const permanent =
    code === 'ERR_PERMISSION_DENIED' ||
    code === 'ERR_NOT_FOUND' ||
    code === 'ERR_INVALID_PATH' ||
    code === 'ERR_INVALID_ARGUMENT' ||
    code === 'ERR_ALREADY_EXISTS' ||
    code === 'ERR_IS_A_DIRECTORY' ||
    code === 'ERR_NOT_A_DIRECTORY';
  return {
    ok: false,
    error: `${what}: ${message}${code ? ` (${code})` : ''}`,
    ...(permanent ? { permanent } : {}),
  };
}
