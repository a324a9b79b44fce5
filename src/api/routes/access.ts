// /api/apikeys and /api/admins: who may use the API (role admin only).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminView, apiKeyView } from '../../admin/api-access.js';
import { API_ROLES } from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import {
  type ApiDeps,
  contains,
  nameSearch,
  pageOf,
  pageQuerySchema,
  paginate,
  problemResponses,
} from '../deps.js';

const apiKeySchema = z
  .object({
    name: z.string(),
    role: z.enum(API_ROLES),
    prefix: z.string(),
    created: z.string(),
    expires: z.string().nullable(),
    lastUsed: z.string().nullable(),
    createdBy: z.string(),
  })
  .meta({
    id: 'ApiKey',
    example: {
      name: 'deploy',
      role: 'operator',
      prefix: 'ferry_Zq3x9A',
      created: '2026-11-30T09:00:00.000Z',
      expires: null,
      lastUsed: '2026-11-30T09:05:00.000Z',
      createdBy: 'cli:root',
    },
  });

export const adminSchema = z
  .object({ name: z.string(), role: z.enum(API_ROLES), created: z.string(), updated: z.string() })
  .meta({
    id: 'Admin',
    example: {
      name: 'carol',
      role: 'auditor',
      created: '2026-11-30T09:00:00.000Z',
      updated: '2026-11-30T09:00:00.000Z',
    },
  });

const nameParams = z.object({ name: z.string().min(1).max(200) });

const listQuery = pageQuerySchema.extend({
  search: nameSearch,
  role: z.enum(API_ROLES).optional().describe('only this role').meta({ example: 'operator' }),
});

export const accessRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const access = deps.admin.apiAccess;
    const config = { permission: 'access:manage' } as const;

    app.get(
      '/api/apikeys',
      {
        config,
        schema: {
          tags: ['access'],
          summary: 'List API keys (never the keys themselves; paginated by name)',
          querystring: listQuery,
          response: { 200: pageOf(apiKeySchema), ...problemResponses },
        },
      },
      async (request) => {
        const { search, role } = request.query;
        const found = (await access.listKeys()).filter(
          (k) => contains(k.name, search) && (role === undefined || k.role === role),
        );
        const page = paginate(found, (k) => k.name, request.query);
        return { items: page.items.map(apiKeyView), nextCursor: page.nextCursor };
      },
    );

    app.post(
      '/api/apikeys',
      {
        config,
        schema: {
          tags: ['access'],
          summary: 'Issue an API key: the response holds the key, the only time it is shown',
          body: z
            .object({ name: z.string(), role: z.enum(API_ROLES), expiresAt: z.iso.datetime().optional() })
            .strict()
            .meta({
              example: { name: 'nightly-report', role: 'auditor', expiresAt: '2027-06-30T00:00:00Z' },
            }),
          response: {
            201: apiKeySchema.extend({ key: z.string() }).meta({
              example: {
                name: 'nightly-report',
                role: 'auditor',
                prefix: 'ferry_Zq3x9A',
                created: '2026-11-30T09:00:00.000Z',
                expires: '2027-06-30T00:00:00.000Z',
                lastUsed: null,
                createdBy: 'api:deploy',
                key: 'ferry_Zq3x9A…',
              },
            }),
            ...problemResponses,
          },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const { key, record } = await access.addKey(actorOf(request), {
          name: b.name,
          role: b.role,
          expiresAt: b.expiresAt === undefined ? undefined : new Date(b.expiresAt),
        });
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({ ...apiKeyView(record), key: key.reveal() });
      },
    );

    app.delete(
      '/api/apikeys/:name',
      {
        config,
        schema: {
          tags: ['access'],
          summary: 'Revoke an API key (refused from the next request on)',
          params: nameParams,
          response: { 204: z.null().describe('revoked'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await access.removeKey(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/api/admins',
      {
        config,
        schema: {
          tags: ['access'],
          summary: 'List administrator accounts (paginated by name)',
          querystring: listQuery,
          response: { 200: pageOf(adminSchema), ...problemResponses },
        },
      },
      async (request) => {
        const { search, role } = request.query;
        const found = (await access.listAdmins()).filter(
          (a) => contains(a.name, search) && (role === undefined || a.role === role),
        );
        const page = paginate(found, (a) => a.name, request.query);
        return { items: page.items.map(adminView), nextCursor: page.nextCursor };
      },
    );

    app.post(
      '/api/admins',
      {
        config,
        schema: {
          tags: ['access'],
          summary: 'Create an administrator account (argon2id password)',
          body: z
            .object({ name: z.string(), role: z.enum(API_ROLES), password: z.string().min(12).max(1024) })
            .strict()
            .meta({ example: { name: 'carol', role: 'auditor', password: 'a long passphrase here' } }),
          response: { 201: adminSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const admin = await access.addAdmin(actorOf(request), {
          name: b.name,
          role: b.role,
          password: new Secret(b.password),
        });
        return reply.code(201).send(adminView(admin));
      },
    );

    app.patch(
      '/api/admins/:name',
      {
        config,
        schema: {
          tags: ['access'],
          summary:
            "Change an administrator account's role (its console sessions get it at their next request)",
          params: nameParams,
          body: z
            .object({ role: z.enum(API_ROLES) })
            .strict()
            .meta({ example: { role: 'operator' } }),
          response: { 200: adminSchema, ...problemResponses },
        },
      },
      async (request) =>
        adminView(await access.setAdmin(actorOf(request), request.params.name, request.body)),
    );

    app.delete(
      '/api/admins/:name',
      {
        config,
        schema: {
          tags: ['access'],
          summary: 'Delete an administrator account',
          params: nameParams,
          response: { 204: z.null().describe('deleted'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await access.removeAdmin(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
