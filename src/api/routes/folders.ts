// /api/folders: virtual folders over the folder admin service (list, create, show, change, delete) and their mounts
// for users and groups (mount, unmount); a user's merged view is at /api/users/{name}/effective.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, pageQuerySchema, paginate, problemResponses } from '../deps.js';

const amount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const owner = z.object({ kind: z.enum(['user', 'group']), name: z.string().min(1).max(200) }).strict();

export const folderSchema = z
  .object({
    name: z.string(),
    path: z.string().describe('the directory on the server: the folder’s root'),
    description: z.string(),
    quotaBytes: z.number().describe('0: no limit; everyone’s writes count together'),
    quotaFiles: z.number(),
    usedBytes: z.number(),
    usedFiles: z.number(),
    mounts: z.array(
      z.object({
        owner: z.object({ kind: z.enum(['user', 'group']), name: z.string() }),
        virtualPath: z.string(),
        permissions: z.array(z.string()).readonly(),
      }),
    ),
    created: z.string(),
    updated: z.string(),
  })
  .meta({
    id: 'Folder',
    example: {
      name: 'reports',
      path: '/srv/reports',
      description: 'monthly reports',
      quotaBytes: 10737418240,
      quotaFiles: 0,
      usedBytes: 1048576,
      usedFiles: 12,
      mounts: [
        {
          owner: { kind: 'group', name: 'bank-partners' },
          virtualPath: '/reports',
          permissions: ['list', 'download'],
        },
      ],
      created: '2026-11-30T09:00:00.000Z',
      updated: '2026-11-30T09:00:00.000Z',
    },
  });

const createBody = z
  .object({
    name: z.string().min(1).max(200),
    path: z.string().min(1).max(4096),
    description: z.string().max(500).optional(),
    quotaBytes: amount.optional(),
    quotaFiles: amount.optional(),
  })
  .strict()
  .meta({ example: { name: 'reports', path: '/srv/reports', quotaBytes: 10737418240 } });

const patchBody = z
  .object({
    path: z.string().min(1).max(4096).optional(),
    description: z.string().max(500).optional(),
    quotaBytes: amount.optional(),
    quotaFiles: amount.optional(),
  })
  .strict()
  .meta({ example: { quotaBytes: 21474836480 } });

const mountBody = z
  .object({
    owner,
    virtualPath: z.string().min(1).max(4096),
    permissions: z.array(z.string().min(1)).min(1).max(32).optional().describe('default: list, download'),
  })
  .strict()
  .meta({
    example: {
      owner: { kind: 'group', name: 'bank-partners' },
      virtualPath: '/reports',
      permissions: ['list', 'download'],
    },
  });

const unmountQuery = z
  .object({
    kind: z.enum(['user', 'group']),
    owner: z.string().min(1).max(200),
    virtualPath: z.string().min(1).max(4096),
  })
  .strict();

const nameParams = z.object({ name: z.string().min(1).max(200) });

export const folderRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const folders = deps.admin.folders;
    const read = { permission: 'users:read' } as const;
    const write = { permission: 'users:write' } as const;
    const tags = ['folders'];

    app.get(
      '/api/folders',
      {
        config: read,
        schema: {
          tags,
          summary: 'List virtual folders with their usage and mounts',
          querystring: pageQuerySchema,
          response: { 200: pageOf(folderSchema), ...problemResponses },
        },
      },
      async (request) => paginate(await folders.list(), (f) => f.name, request.query),
    );

    app.post(
      '/api/folders',
      {
        config: write,
        schema: {
          tags,
          summary: 'Define a virtual folder (a directory outside the data dir, with its own quota)',
          body: createBody,
          response: { 201: folderSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const folder = await folders.add(actorOf(request), request.body);
        return reply
          .code(201)
          .header('location', `/api/folders/${encodeURIComponent(folder.name)}`)
          .send(folder);
      },
    );

    app.get(
      '/api/folders/:name',
      {
        config: read,
        schema: {
          tags,
          summary: 'Show a virtual folder, its usage and who mounts it',
          params: nameParams,
          response: { 200: folderSchema, ...problemResponses },
        },
      },
      async (request) => folders.show(request.params.name),
    );

    app.patch(
      '/api/folders/:name',
      {
        config: write,
        schema: {
          tags,
          summary: "Change a folder's directory, description or quota (sessions get it at their next login)",
          params: nameParams,
          body: patchBody,
          response: { 200: folderSchema, ...problemResponses },
        },
      },
      async (request) => folders.set(actorOf(request), { name: request.params.name, ...request.body }),
    );

    app.delete(
      '/api/folders/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Delete a virtual folder (refused while mounted; its files stay)',
          params: nameParams,
          response: { 204: z.null().describe('deleted'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await folders.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/api/folders/:name/mounts',
      {
        config: write,
        schema: {
          tags,
          summary: 'Mount the folder at a virtual path for a user or a group (replacing what they had there)',
          params: nameParams,
          body: mountBody,
          response: { 200: folderSchema, ...problemResponses },
        },
      },
      async (request) => {
        const { permissions, ...b } = request.body;
        await folders.mount(actorOf(request), {
          folder: request.params.name,
          ...b,
          ...(permissions ? { permissions } : {}),
        });
        return folders.show(request.params.name);
      },
    );

    app.delete(
      '/api/folders/:name/mounts',
      {
        config: write,
        schema: {
          tags,
          summary: 'Unmount the folder from a user or a group',
          params: nameParams,
          querystring: unmountQuery,
          response: { 200: folderSchema, ...problemResponses },
        },
      },
      async (request) => {
        const q = request.query;
        await folders.unmount(actorOf(request), {
          owner: { kind: q.kind, name: q.owner },
          virtualPath: q.virtualPath,
          folder: request.params.name,
        });
        return folders.show(request.params.name);
      },
    );
  };
