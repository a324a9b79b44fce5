// /api/login, /api/logout, /api/session: console sessions of administrator accounts (cookie + CSRF token).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFENDER_SCORES } from '../../auth/defender.js';
import { API_ROLES } from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { ApiError } from '../errors.js';
import { loginRateLimit } from '../rate-limit.js';

const sessionSchema = z
  .object({
    name: z.string(),
    role: z.enum(API_ROLES),
    csrfToken: z.string().describe(`send it back in ${CSRF_HEADER} on every POST, PATCH and DELETE`),
    expires: z.string().optional(),
  })
  .meta({
    id: 'ConsoleSession',
    example: {
      name: 'carol',
      role: 'auditor',
      csrfToken: 'kq1V0h7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9r',
      expires: '2026-11-30T17:00:00.000Z',
    },
  });

export const consoleSessionRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const access = deps.admin.apiAccess;
    const tags = ['console'];

    app.post(
      '/api/login',
      {
        config: { permission: 'public', rateLimit: loginRateLimit(deps.defender) },
        schema: {
          tags,
          summary:
            'Log an administrator account in: sets the HttpOnly session cookie, returns the CSRF token',
          description:
            'An account with TOTP (`ferry admins totp enable`) also needs `code`: the current 6-digit code, each accepted once, or an unused recovery code. A wrong or missing code is refused like a wrong password.',
          security: [],
          body: z
            .object({
              name: z.string().min(1).max(64),
              password: z.string().min(1).max(1024),
              code: z
                .string()
                .min(1)
                .max(64)
                .optional()
                .describe('one-time code (TOTP) or recovery code; required for accounts with TOTP'),
            })
            .strict()
            .meta({ example: { name: 'carol', password: 'a long passphrase here', code: '492039' } }),
          response: { 200: sessionSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const address = request.ip;
        if ((await deps.defender.verdict(address)) !== 'allow')
          throw new ApiError('ERR_PERMISSION_DENIED', 'this address is banned or denied');
        const { name, password, code } = request.body;
        const session = await access.login(
          name,
          new Secret(password),
          code === undefined ? undefined : new Secret(code),
        );
        if (!session) {
          request.log.warn({ remoteAddress: address, admin: name }, 'console login failed');
          await deps.defender.penalize(address, DEFENDER_SCORES.loginFailed, 'console login failed');
          // One answer for every failure: it tells no one whether the password was right but the code was not.
          throw new ApiError('ERR_UNAUTHENTICATED', 'wrong name, password or one-time code');
        }
        request.log.info({ remoteAddress: address, admin: name }, 'console login');
        reply.setCookie(SESSION_COOKIE, session.sessionId.reveal(), {
          httpOnly: true,
          sameSite: 'strict',
          // Always Secure: plain HTTP is served only on loopback (a secure context for browsers) or behind TLS.
          secure: true,
          path: '/',
          expires: session.expiresAt,
        });
        return {
          name: session.admin.name,
          role: session.admin.role,
          csrfToken: session.csrfToken,
          expires: session.expiresAt.toISOString(),
        };
      },
    );

    app.post(
      '/api/logout',
      {
        config: { permission: 'session' },
        schema: {
          tags,
          summary: 'End the console session at once (its cookie is refused from then on, in every process)',
          response: { 204: z.null().describe('logged out'), ...problemResponses },
        },
      },
      async (request, reply) => {
        const cookie = request.cookies[SESSION_COOKIE];
        if (request.principal?.actor.kind !== 'console' || cookie === undefined)
          throw new ApiError(
            'ERR_INVALID_ARGUMENT',
            'no console session to end (API keys are revoked with DELETE /api/apikeys/{name})',
          );
        await access.logout(cookie);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/api/session',
      {
        config: { permission: 'session' },
        schema: {
          tags,
          summary: 'Who is logged in, with the CSRF token (for a reloaded console page)',
          response: { 200: sessionSchema, ...problemResponses },
        },
      },
      async (request) => {
        const cookie = request.cookies[SESSION_COOKIE];
        const session = cookie === undefined ? undefined : await access.authenticateSession(cookie);
        if (!session) throw new ApiError('ERR_INVALID_ARGUMENT', 'this request has no console session');
        return { name: session.admin.name, role: session.admin.role, csrfToken: session.csrfToken };
      },
    );
  };
