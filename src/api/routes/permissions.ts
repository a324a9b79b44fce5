// GET /api/permissions: the caller's role and what it may do, from the one table (auth.ts), so a client (the
// console) offers only the forms the API would accept without keeping a copy of the table.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { API_ROLES } from '../../store/types.js';
import { may, PERMISSIONS } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { ApiError } from '../errors.js';

const grantsSchema = z
  .object({
    role: z.enum(API_ROLES),
    permissions: z
      .array(z.string())
      .describe("every permission the caller's role holds (a route's x-permission), sorted"),
  })
  .meta({
    id: 'Permissions',
    example: { role: 'operator', permissions: ['jobs:read', 'jobs:run', 'partners:read', 'rules:read'] },
  });

export const permissionRoutes =
  (_deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/permissions',
      {
        config: { permission: 'session' },
        schema: {
          tags: ['console'],
          summary: "The caller's role and the permissions it holds (what the API will let it do)",
          response: { 200: grantsSchema, ...problemResponses },
        },
      },
      async (request) => {
        const role = request.principal?.role;
        if (role === undefined) throw new ApiError('ERR_UNAUTHENTICATED', 'authentication required');
        const permissions = (Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[])
          .filter((p) => may(role, p))
          .sort();
        return { role, permissions };
      },
    );
  };
