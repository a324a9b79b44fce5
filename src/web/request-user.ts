// Who is signed in to the web client on this request, the CSRF check, and the core file session opened as them.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isExpired, sourceAllowed } from '../auth/authenticator.js';
import { homeDirOf } from '../auth/user-admin.js';
import { sessionLimitsOf } from '../core/session-limits.js';
import type { FileSession } from '../core/types.js';
import { PermissionDeniedError } from '../errors.js';
import { protocolAllowed, type UserRecord } from '../store/types.js';
import type { WebClientDeps } from './deps.js';
import {
  COOKIE_PATH,
  credentialStamp,
  csrfMatches,
  csrfTokenOf,
  decodeSession,
  FILES_COOKIE,
  type WebSession,
} from './session-token.js';

export interface SignedIn {
  readonly session: WebSession;
  readonly user: UserRecord;
  readonly csrf: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by requireUser on the web client's signed-in routes. */
    filesUser?: SignedIn;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

/** The signed-in user, or undefined (no cookie, a forged or expired one, a disabled or removed account). */
export async function signedIn(deps: WebClientDeps, request: FastifyRequest): Promise<SignedIn | undefined> {
  const cookie = request.cookies?.[FILES_COOKIE];
  if (cookie === undefined) return undefined;
  const key = deps.sessionKey();
  const session = decodeSession(key, cookie);
  if (!session) return undefined;
  // Signed out, ended by an administrator (on any node) or expired: its row is gone and the cookie with it.
  if (!(await deps.webSessions.get(session.sid, new Date()))) return undefined;
  // Read each request: a user disabled, expired, removed (or removed and created again), given a new
  // password, now outside their allowed networks or denied https since login is out at once, as SSH would
  // refuse them.
  const user = await deps.users.findByName(session.user);
  const allowed =
    user !== undefined &&
    !user.disabled &&
    !isExpired(user.expiresOn, new Date()) &&
    protocolAllowed(user, 'https') &&
    user.id === session.userId &&
    credentialStamp(key, user.passwordHash) === session.stamp &&
    sourceAllowed(user, request.ip);
  if (!allowed) {
    // Ended for good: its row goes, so the live session view stops listing it (enabling the account again does
    // not bring this sign-in back).
    await deps.webSessions.close(session.sid);
    return undefined;
  }
  return { session, user, csrf: csrfTokenOf(key, session) };
}

/**
 * preHandler of every signed-in route: pages redirect to the login, other requests get 401. A request that
 * changes something must carry the session's CSRF token (form field or header), or it is refused with 403.
 */
export function requireUser(deps: WebClientDeps, kind: 'page' | 'api') {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if ((await deps.defender.verdict(request.ip)) !== 'allow') {
      await reply.code(403).type('text/plain').send('This address is banned or denied.');
      return;
    }
    const who = await signedIn(deps, request);
    if (!who) {
      if (kind === 'page' && SAFE_METHODS.has(request.method)) await reply.redirect('/files/login', 303);
      else await reply.code(401).type('text/plain').send('Sign in first: /files/login');
      return;
    }
    if (!SAFE_METHODS.has(request.method)) {
      const body = request.body as Record<string, unknown> | undefined;
      const given = request.headers[CSRF_HEADER] ?? body?.[CSRF_FIELD];
      if (!csrfMatches(deps.sessionKey(), who.session, given)) {
        await reply.code(403).type('text/plain').send('Missing or wrong CSRF token; reload the page.');
        return;
      }
    }
    request.filesUser = who;
  };
}

export function userOf(request: FastifyRequest): SignedIn {
  if (!request.filesUser) throw new PermissionDeniedError('not signed in');
  return request.filesUser;
}

/** A core session as this user, exactly as SFTP opens one (chroot, permissions, events, audit), protocol https. */
export function openFiles(deps: WebClientDeps, request: FastifyRequest): FileSession {
  const { user, session } = userOf(request);
  return deps.fileSessions({
    sessionId: session.sid,
    username: user.name,
    virtualId: user.id,
    homeDir: homeDirOf(user, deps.homesDir),
    permissions: user.permissions,
    ...sessionLimitsOf(user),
    remoteAddress: request.ip,
    protocol: 'https',
  });
}

/** Runs `work` in a file session that is closed afterwards, whatever happens. */
export async function withFiles<T>(
  deps: WebClientDeps,
  request: FastifyRequest,
  work: (files: FileSession) => Promise<T>,
): Promise<T> {
  const files = openFiles(deps, request);
  try {
    return await work(files);
  } finally {
    await files.close();
  }
}

export function cookieOptions(deps: WebClientDeps, maxAge?: number) {
  return {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: deps.secureCookies,
    ...(maxAge !== undefined ? { maxAge } : {}),
  };
}
