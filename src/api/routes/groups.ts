// /api/groups: groups over the group admin service (list, create, show, change, delete); members change through
// /api/users (`group`, `addGroups`, `removeGroups`), a user's effective settings at /api/users/{name}/effective.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { transferQuotaChangesSchema } from '../../admin/transfer-quota-spec.js';
import { PROTOCOLS } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, pageQuerySchema, paginate, problemResponses } from '../deps.js';
import { transferQuotasSchema } from './user-schemas.js';

const amount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const protocols = z.array(z.enum(PROTOCOLS)).max(PROTOCOLS.length * 2);

export const groupSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    homeTemplate: z
      .string()
      .nullable()
      .describe('members’ home, %username% replaced; null: the default home'),
    permissions: z.record(z.string(), z.array(z.string()).readonly()).readonly(),
    protocols: z
      .array(z.enum(PROTOCOLS))
      .readonly()
      .describe('members’ default protocols; empty: no default'),
    allowedSources: z.array(z.string()).readonly(),
    pgpPolicies: z.record(z.string(), z.unknown()).readonly(),
    quotaBytes: z.number(),
    quotaFiles: z.number(),
    uploadRate: z.number(),
    downloadRate: z.number(),
    transferQuotas: transferQuotasSchema.describe(
      'members’ default transfer quotas; a kind absent: no default',
    ),
    members: z.array(z.object({ user: z.string(), primary: z.boolean() })),
    created: z.string(),
    updated: z.string(),
  })
  .meta({
    id: 'Group',
    example: {
      name: 'bank-partners',
      description: 'partner banks',
      homeTemplate: '/srv/partners/%username%',
      permissions: { '/in': ['list', 'upload'], '/out': ['list', 'download'] },
      protocols: ['sftp'],
      allowedSources: [],
      pgpPolicies: {},
      quotaBytes: 10737418240,
      quotaFiles: 0,
      uploadRate: 5242880,
      downloadRate: 0,
      transferQuotas: { total: { bytes: 107374182400, period: 'month' } },
      members: [{ user: 'alice', primary: true }],
      created: '2026-11-30T09:00:00.000Z',
      updated: '2026-11-30T09:00:00.000Z',
    },
  });

const settings = {
  description: z.string().max(500).optional(),
  permissions: z
    .array(z.string().min(1))
    .optional()
    .describe("e.g. ['/in=list,upload', '/out=list,download']"),
  protocols: protocols.optional(),
  allowedSources: z.array(z.string()).optional(),
  pgp: z.array(z.string()).optional().describe('OpenPGP folder policies, as `ferry users set --pgp`'),
  quotaBytes: amount.optional(),
  quotaFiles: amount.optional(),
  uploadRate: amount.optional(),
  downloadRate: amount.optional(),
  transferQuotas: transferQuotaChangesSchema
    .optional()
    .describe(
      "per kind (upload, download, total): { bytes, period: 'day' | 'month' }, or null to remove the default",
    ),
};

const createBody = z
  .object({ name: z.string().min(1).max(200), homeTemplate: z.string().max(4096).optional(), ...settings })
  .strict()
  .meta({
    example: {
      name: 'bank-partners',
      homeTemplate: '/srv/partners/%username%',
      permissions: ['/in=list,upload', '/out=list,download'],
    },
  });

const patchBody = z
  .object({
    homeTemplate: z.string().max(4096).nullable().optional(),
    resetPermissions: z.boolean().optional(),
    removePermissions: z.array(z.string().min(1)).optional(),
    ...settings,
  })
  .strict()
  .meta({ example: { uploadRate: 5242880, permissions: ['/reports=list,download'] } });

const nameParams = z.object({ name: z.string().min(1).max(200) });

export const groupRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const groups = deps.admin.groups;
    const read = { permission: 'users:read' } as const;
    const write = { permission: 'users:write' } as const;
    const tags = ['groups'];

    app.get(
      '/api/groups',
      {
        config: read,
        schema: {
          tags,
          summary: 'List groups with their members',
          querystring: pageQuerySchema,
          response: { 200: pageOf(groupSchema), ...problemResponses },
        },
      },
      async (request) => paginate(await groups.list(), (g) => g.name, request.query),
    );

    app.post(
      '/api/groups',
      {
        config: write,
        schema: {
          tags,
          summary: 'Create a group',
          body: createBody,
          response: { 201: groupSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { pgp, ...b } = request.body;
        const group = await groups.add(actorOf(request), { ...b, ...(pgp ? { pgp } : {}) });
        return reply
          .code(201)
          .header('location', `/api/groups/${encodeURIComponent(group.name)}`)
          .send(group);
      },
    );

    app.get(
      '/api/groups/:name',
      {
        config: read,
        schema: {
          tags,
          summary: 'Show a group and its members',
          params: nameParams,
          response: { 200: groupSchema, ...problemResponses },
        },
      },
      async (request) => groups.show(request.params.name),
    );

    app.patch(
      '/api/groups/:name',
      {
        config: write,
        schema: {
          tags,
          summary: "Change a group's defaults (members get them at their next login)",
          params: nameParams,
          body: patchBody,
          response: { 200: groupSchema, ...problemResponses },
        },
      },
      async (request) => {
        const { pgp, ...b } = request.body;
        return groups.set(actorOf(request), { name: request.params.name, ...b, ...(pgp ? { pgp } : {}) });
      },
    );

    app.delete(
      '/api/groups/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Delete a group (refused while it has members)',
          params: nameParams,
          response: { 204: z.null().describe('deleted'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await groups.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
