// /api/admins/{name}/totp: an administrator account's one-time codes, enrolled or removed by an admin. The
// enrolment (secret, otpauth URI, recovery codes) is in the answer only, once, like `ferry admins totp enable`.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiAccessAdmin } from '../../admin/api-access.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';

const nameParams = z.object({ name: z.string().min(1).max(200) });

const enrolmentSchema = z
  .object({
    name: z.string(),
    secret: z.string().describe('base32 secret (the same as in the URI), for apps that cannot scan'),
    uri: z.string().describe('otpauth:// URI for an authenticator app'),
    recoveryCodes: z.array(z.string()).describe('each usable once instead of a code'),
  })
  .meta({
    id: 'TotpEnrolment',
    example: {
      name: 'carol',
      secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
      uri: 'otpauth://totp/Ferry%20API:carol?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&period=30&digits=6&algorithm=SHA1&issuer=Ferry%20API',
      recoveryCodes: ['3f9a-1c2e-7b40', '0d81-9e6a-52cf'],
    },
  });

export const adminTotpRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const access = deps.admin.apiAccess as ApiAccessAdmin;
    // Accounts are the admin's alone (access:manage), their second factor with them.
    const config = { permission: 'access:manage' } as const;

    app.post(
      '/api/admins/:name/totp',
      {
        config,
        schema: {
          tags: ['access'],
          summary:
            "Enrol (or replace) an administrator's TOTP: the secret, URI and recovery codes are shown only in this answer; the account's console sessions end",
          params: nameParams,
          response: { 200: enrolmentSchema, ...problemResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        const { uri, recoveryCodes } = await access.enableTotp(actorOf(request), name);
        const secret = new URL(uri.reveal()).searchParams.get('secret') ?? '';
        return { name, secret, uri: uri.reveal(), recoveryCodes: recoveryCodes.reveal() };
      },
    );

    app.delete(
      '/api/admins/:name/totp',
      {
        config,
        schema: {
          tags: ['access'],
          summary: "Remove an administrator's TOTP secret (console logins need the password only again)",
          params: nameParams,
          response: { 204: z.null().describe('removed'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await access.disableTotp(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
