// TOTP enrolment confirmed by a code: a drafted secret (nothing stored) is shown as a QR code and text, and stored
// only when a current code from the authenticator app proves it was read right. For the signed-in administrator
// (/api/session/totp) and for an SFTP user (/api/users/{name}/totp).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AUTH_METHODS } from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { actorOf, SESSION_COOKIE } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { ApiError } from '../errors.js';
import { loginRateLimit } from '../rate-limit.js';

const EXAMPLE_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

const draftSchema = z
  .object({
    name: z.string(),
    secret: z
      .string()
      .describe('base32 secret, to type into an app that cannot scan; send it back to confirm'),
    uri: z.string().describe('otpauth:// URI (the QR code)'),
  })
  .meta({
    id: 'TotpDraft',
    example: {
      name: 'carol',
      secret: EXAMPLE_SECRET,
      uri: `otpauth://totp/Ferry:carol?secret=${EXAMPLE_SECRET}&period=30&digits=6&algorithm=SHA1&issuer=Ferry`,
    },
  });

const secret = z.string().min(32).max(128).describe('the secret of the draft');
const code = z.string().min(6).max(6).describe('the current 6-digit code from the app');
const nameParams = z.object({ name: z.string().min(1).max(200) });
const recoveryCodes = z.array(z.string()).describe('each usable once instead of a code; shown only here');

export const totpEnrolmentRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const access = deps.admin.apiAccess;
    const users = deps.admin.users;
    const tags = ['access'];

    /** Only a console login has an account of its own to enrol (an API key has none). */
    const consoleAccount = (request: Parameters<typeof actorOf>[0]) => {
      const actor = actorOf(request);
      if (actor.kind !== 'console')
        throw new ApiError('ERR_INVALID_ARGUMENT', 'only a console session enrols its own TOTP');
      return actor.name;
    };

    app.post(
      '/api/session/totp/draft',
      {
        config: { permission: 'session' },
        schema: {
          tags,
          summary: "A new TOTP secret for the signed-in administrator's app; nothing changes until confirmed",
          response: { 200: draftSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const name = consoleAccount(request);
        const draft = await access.draftTotp(name);
        reply.header('cache-control', 'no-store');
        return { name, secret: draft.secret.reveal(), uri: draft.uri.reveal() };
      },
    );

    app.post(
      '/api/session/totp',
      {
        // The password is checked here: as rate-limited as a login.
        config: { permission: 'session', rateLimit: loginRateLimit(deps.defender) },
        schema: {
          tags,
          summary:
            "Enrol the signed-in administrator's TOTP (password, drafted secret, current code); every console session of the account ends, this one too",
          body: z
            .object({ password: z.string().min(1).max(1024), secret, code })
            .strict()
            .meta({ example: { password: 'my passphrase', secret: EXAMPLE_SECRET, code: '123456' } }),
          response: {
            200: z
              .object({ name: z.string(), recoveryCodes })
              .meta({ example: { name: 'carol', recoveryCodes: ['3f9a-1c2e-7b40'] } }),
            ...problemResponses,
          },
        },
      },
      async (request, reply) => {
        const name = consoleAccount(request);
        const b = request.body;
        const { recoveryCodes: codes } = await access.confirmOwnTotp(actorOf(request), {
          name,
          password: new Secret(b.password),
          secret: new Secret(b.secret),
          code: new Secret(b.code),
        });
        reply.clearCookie(SESSION_COOKIE, { path: '/' }).header('cache-control', 'no-store');
        return { name, recoveryCodes: codes.reveal() };
      },
    );

    app.post(
      '/api/users/:name/totp/draft',
      {
        config: { permission: 'users:write' },
        schema: {
          tags: ['users'],
          summary: "A new TOTP secret for a user's app; nothing changes until POST /api/users/{name}/totp",
          params: nameParams,
          response: { 200: draftSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const draft = await users.draftTotp(request.params.name);
        reply.header('cache-control', 'no-store');
        return { name: request.params.name, secret: draft.secret.reveal(), uri: draft.uri.reveal() };
      },
    );

    app.post(
      '/api/users/:name/totp',
      {
        config: { permission: 'users:write' },
        schema: {
          tags: ['users'],
          summary:
            "Enrol a user's TOTP with a drafted secret and a current code from the user's app; logins then ask for a code after the other factors",
          params: nameParams,
          body: z
            .object({ secret, code })
            .strict()
            .meta({ example: { secret: EXAMPLE_SECRET, code: '123456' } }),
          response: {
            200: z
              .object({ name: z.string(), recoveryCodes, requiredMethods: z.array(z.enum(AUTH_METHODS)) })
              .meta({
                example: {
                  name: 'alice',
                  recoveryCodes: ['3f9a-1c2e-7b40'],
                  requiredMethods: ['password', 'keyboard-interactive'],
                },
              }),
            ...problemResponses,
          },
        },
      },
      async (request, reply) => {
        const { name } = request.params;
        const done = await users.enableTotp(actorOf(request), name, {
          secret: new Secret(request.body.secret),
          code: new Secret(request.body.code),
        });
        reply.header('cache-control', 'no-store');
        return { name, recoveryCodes: done.recoveryCodes.reveal(), requiredMethods: done.requiredMethods };
      },
    );
  };
