// PATCH /api/admins/{name}: change an administrator account's role (the admin's alone, like the accounts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminView } from '../../admin/api-access.js';
import { API_ROLES } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { adminSchema } from './access.js';

export const adminRoleRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.patch(
      '/api/admins/:name',
      {
        config: { permission: 'access:manage' },
        schema: {
          tags: ['access'],
          summary: "Change an administrator account's role (applies from its next request)",
          params: z.object({ name: z.string().min(1).max(200) }),
          body: z
            .object({ role: z.enum(API_ROLES) })
            .strict()
            .meta({ example: { role: 'operator' } }),
          response: { 200: adminSchema, ...problemResponses },
        },
      },
      async (request) =>
        adminView(
          await deps.admin.apiAccess.setAdminRole(actorOf(request), request.params.name, request.body.role),
        ),
    );
  };
