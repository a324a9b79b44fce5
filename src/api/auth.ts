// Who is calling and may they: bearer API keys, the defender, and the one table of roles and permissions.
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
  'partners:read': ['admin', 'operator'],
  'jobs:read': ['admin', 'operator'],
  'jobs:run': ['admin', 'operator'],
  'defender:read': ['admin', 'operator'],
  'defender:write': ['admin', 'operator'],
  'sessions:read': ['admin', 'operator', 'auditor'],
  'audit:read': ['admin', 'operator', 'auditor'],
  'status:read': ['admin', 'operator', 'auditor'],
  /** API keys and administrator accounts. */
  'access:manage': ['admin'],
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
    request.principal = { actor: { kind: 'api', name: key.name, address }, role: key.role };
    if (!may(key.role, permission))
      throw new ApiError('ERR_PERMISSION_DENIED', `role ${key.role} may not ${permission.replace(':', ' ')}`);
  });
}
