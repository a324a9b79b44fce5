// Request rates: @fastify/rate-limit per API key (or address) on every route, and far tighter on the login.
import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DEFENDER_SCORES, type Defender } from '../auth/defender.js';
import { ApiError } from './errors.js';

/** Every caller (an API key, or an address without one): enough for any script or console, not for a flood. */
export const REQUEST_LIMIT = { max: 1200, timeWindow: 60_000 } as const;
/** Logins per address: a person mistypes a few times; more is guessing. */
export const LOGIN_LIMIT = { max: 10, timeWindow: 60_000 } as const;

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * A key's requests count together from any address; never the key itself in memory longer than needed. Public
 * routes (and the web client's) check no key, so any token there would buy a fresh bucket: they count by address.
 * A made-up token on an authenticated route is refused before the handler and scored by the defender.
 */
function callerKey(request: FastifyRequest): string {
  const permission = request.routeOptions.config?.permission;
  if (permission === undefined || permission === 'public') return `address:${request.ip}`;
  const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
  return token === undefined
    ? `address:${request.ip}`
    : `key:${createHash('sha256').update(token).digest('base64url')}`;
}

function refused(_request: FastifyRequest, context: { ttl: number; after: string }): ApiError {
  const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
  return new ApiError('ERR_RATE_LIMITED', `too many requests; try again in ${context.after}`, {
    'retry-after': String(seconds),
  });
}

/**
 * Registers the limits (before the routes: the plugin adds its hook to each route as it is declared). The
 * counters are per process: under `--workers N` a caller gets up to N times as many; the defender's score,
 * kept in the store, is what bans across processes. Addresses on the defender's allow list are not limited.
 */
export async function installRateLimits(app: FastifyInstance, defender: Defender): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: REQUEST_LIMIT.max,
    timeWindow: REQUEST_LIMIT.timeWindow,
    keyGenerator: callerKey,
    allowList: (request) => defender.isAllowListed(request.ip),
    errorResponseBuilder: refused,
  });
}

/**
 * The login route's limit: per address, and every refused attempt scores like a failed login, so a flood ends
 * in a ban. A banned address passes the limiter to be told it is banned (403), as before the limit.
 */
export function loginRateLimit(defender: Defender) {
  return {
    max: LOGIN_LIMIT.max,
    timeWindow: LOGIN_LIMIT.timeWindow,
    keyGenerator: (request: FastifyRequest) => `login:${request.ip}`,
    allowList: async (request: FastifyRequest) =>
      (await defender.isAllowListed(request.ip)) || (await defender.verdict(request.ip)) !== 'allow',
    onExceeded: (request: FastifyRequest) => {
      // Not awaited by the plugin: a store failure is logged, the 429 is sent either way.
      defender
        .penalize(request.ip, DEFENDER_SCORES.loginFailed, 'console login rate exceeded')
        .catch((err: unknown) => request.log.error({ err }, 'defender failed'));
    },
  };
}
