// Who is calling and may they: bearer API keys, the defender, and the one table of roles and permissions.
import { timingSafeEqual } from 'node:crypto';
// Its module augmentation types request.cookies (the plugin itself is registered in server.ts).
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor } from '../admin/actor.js';
import type { ApiAccessAdmin } from '../admin/api-access.js';
import { DEFENDER_SCORES, type Defender } from '../auth/defender.js';
import type { Logger } from '../logger.js';
import type { ApiRole } from '../store/types.js';
import { ApiError } from './errors.js';

/** What a route may declare; each maps to the roles that hold it (admin holds all). */
export const PERMISSIONS = {
  'users:read': ['admin', 'operator'],
  'users:write': ['admin', 'operator'],
  /** Users exported with their password hashes, or imported with hashes set as they are: the admin's alone. */
  'users:transfer': ['admin'],
  'partners:read': ['admin', 'operator'],
  'partners:write': ['admin', 'operator'],
  'jobs:read': ['admin', 'operator'],
  'jobs:write': ['admin', 'operator'],
  'jobs:run': ['admin', 'operator'],
  /** Public halves of host, client and OpenPGP keys. */
  'keys:read': ['admin', 'operator'],
  /**
   * Client keys Ferry logs in to partners with, made or brought in: whoever manages partners may give one a key.
   * The private half goes in (import) or is made in the store (generate), and never comes out over HTTP.
   */
  'clientkeys:write': ['admin', 'operator'],
  /** X.509 certificates and their public chains: what every client of the API may pin. */
  'certificates:read': ['admin', 'operator', 'auditor'],
  /** Host key lifecycle (generate, import, promote, retire), OpenPGP keys and X.509 certificates in: the server's identity, so the admin's alone. */
  'keys:write': ['admin'],
  /** Rules and their deliveries (never a webhook secret). */
  'rules:read': ['admin', 'operator'],
  /**
   * Defining rules is the admin's alone: a command action runs a program as the server, so defining one is as
   * strong as shell access to the host.
   */
  'rules:write': ['admin'],
  /** Queuing a finished or dead delivery again (the same action, the same receiver). */
  'rules:redeliver': ['admin', 'operator'],
  /** Ending an open SSH connection. */
  'sessions:kill': ['admin', 'operator'],
  /** Scores, bans and the allow and deny lists: an auditor reviews them too. */
  'defender:read': ['admin', 'operator', 'auditor'],
  /** Lifting bans and changing the allow and deny lists (the config's entries stay). */
  'defender:write': ['admin', 'operator'],
  'sessions:read': ['admin', 'operator', 'auditor'],
  /** The live event stream (what the audit trail records, as it happens). */
  'events:read': ['admin', 'operator', 'auditor'],
  'audit:read': ['admin', 'operator', 'auditor'],
  'status:read': ['admin', 'operator', 'auditor'],
  /** API keys and administrator accounts. */
  'access:manage': ['admin'],
  /** One's own console session (whoami, logout). */
  session: ['admin', 'operator', 'auditor'],
} as const satisfies Record<string, readonly ApiRole[]>;

export type Permission = keyof typeof PERMISSIONS | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Every route declares one; a route without one is refused (fail closed). */
    permission?: Permission;
  }
  interface FastifyRequest {
    /** The authenticated caller (absent on public routes). */
    principal?: { readonly actor: Actor; readonly role: ApiRole };
  }
}

/** The console's session cookie (HttpOnly, SameSite=Strict; Secure over HTTPS). */
export const SESSION_COOKIE = 'ferry_session';
/** The header carrying a console session's CSRF token on every request that changes something. */
export const CSRF_HEADER = 'x-csrf-token';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Routes other plugins add (the docs UI's static files) that are public without declaring it. */
const PUBLIC_PREFIXES = ['/api/docs'];

export function may(role: ApiRole, permission: Exclude<Permission, 'public'>): boolean {
  return (PERMISSIONS[permission] as readonly ApiRole[]).includes(role);
}

/** The request's caller, for the admin services. Only on routes that declared a permission. */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.principal) throw new ApiError('ERR_UNAUTHENTICATED', 'authentication required');
  return request.principal.actor;
}

export interface AuthOptions {
  readonly access: ApiAccessAdmin;
  readonly defender: Defender;
  readonly log: Logger;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Installs the one check every request passes: the route's declared permission against the caller's role. */
export function installAuth(app: FastifyInstance, options: AuthOptions): void {
  app.addHook('onRequest', async (request) => {
    const permission = request.routeOptions.config.permission;
    if (permission === 'public') return;
    if (permission === undefined) {
      const path = request.url.split('?')[0] ?? '';
      if (PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) return;
      // Unknown URLs reach the not-found handler; a registered route without a permission is a bug: refuse.
      if (request.routeOptions.url === undefined) return;
      throw new ApiError('ERR_PERMISSION_DENIED', 'this route declares no permission');
    }
    const address = request.ip;
    if ((await options.defender.verdict(address)) !== 'allow')
      throw new ApiError('ERR_PERMISSION_DENIED', 'this address is banned or denied');
    const header = request.headers.authorization;
    const cookie = request.cookies?.[SESSION_COOKIE];
    request.principal =
      header === undefined && cookie !== undefined
        ? await consolePrincipal(request, cookie, options)
        : await keyPrincipal(request, header, options);
    const { role } = request.principal;
    if (!may(role, permission))
      throw new ApiError('ERR_PERMISSION_DENIED', `role ${role} may not ${permission.replace(':', ' ')}`);
  });
}

async function keyPrincipal(
  request: FastifyRequest,
  header: string | undefined,
  options: AuthOptions,
): Promise<NonNullable<FastifyRequest['principal']>> {
  const address = request.ip;
  const token = header === undefined ? undefined : BEARER.exec(header)?.[1];
  if (token === undefined) {
    throw new ApiError('ERR_UNAUTHENTICATED', 'send an API key: Authorization: Bearer ferry_…', {
      'www-authenticate': 'Bearer realm="ferry"',
    });
  }
  const key = await options.access.authenticateKey(token);
  if (!key) {
    // Never the token itself: only that one was refused, and from where.
    options.log.warn({ remoteAddress: address }, 'API key refused');
    await options.defender.penalize(address, DEFENDER_SCORES.loginFailed, 'API key refused');
    throw new ApiError('ERR_UNAUTHENTICATED', 'unknown, revoked or expired API key', {
      'www-authenticate': 'Bearer realm="ferry", error="invalid_token"',
    });
  }
  return { actor: { kind: 'api', name: key.name, address }, role: key.role };
}

/** A console session from its cookie; a change also needs the session's CSRF token in X-CSRF-Token. */
async function consolePrincipal(
  request: FastifyRequest,
  cookie: string,
  options: AuthOptions,
): Promise<NonNullable<FastifyRequest['principal']>> {
  const session = await options.access.authenticateSession(cookie);
  // A stale cookie (logged out, expired) is common and harmless: no defender points, just a new login.
  if (!session) throw new ApiError('ERR_UNAUTHENTICATED', 'the console session ended; log in again');
  if (!SAFE_METHODS.has(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    const expected = Buffer.from(session.csrfToken);
    const given = Buffer.from(typeof sent === 'string' ? sent : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new ApiError('ERR_PERMISSION_DENIED', `missing or wrong ${CSRF_HEADER} header`);
  }
  return {
    actor: { kind: 'console', name: session.admin.name, address: request.ip },
    role: session.admin.role,
  };
}
