// /api/cluster: the nodes serving this store (cluster mode's node registry), as `ferry cluster status` lists them.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { nodeStatuses, nodeStatusJson } from '../../admin/cluster.js';
import { type ApiDeps, listOf, problemResponses } from '../deps.js';

const nodeSchema = z
  .object({
    id: z.string(),
    state: z.enum(['up', 'down']),
    version: z.string(),
    host: z.string(),
    startedAt: z.string(),
    uptimeSeconds: z.number().int(),
    lastHeartbeat: z.string(),
    sessions: z.number().int(),
    processes: z.number().int().describe('serving processes heartbeating now (workers of serve --workers N)'),
    listeners: z.array(z.object({ name: z.string(), address: z.string(), port: z.number().int() })),
  })
  .meta({
    id: 'ClusterNode',
    example: {
      id: 'web1:2222',
      state: 'up',
      version: '0.1.0',
      host: 'web1',
      startedAt: '2026-11-30T08:00:00.000Z',
      uptimeSeconds: 3600,
      lastHeartbeat: '2026-11-30T09:00:00.000Z',
      sessions: 3,
      processes: 2,
      listeners: [{ name: 'sftp', address: '0.0.0.0', port: 2222 }],
    },
  });

export const clusterRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/cluster',
      {
        config: { permission: 'status:read' },
        schema: {
          tags: ['status'],
          summary: 'The nodes serving this store: version, uptime, sessions, last heartbeat, up or down',
          response: { 200: listOf(nodeSchema), ...problemResponses },
        },
      },
      async () => ({ items: nodeStatuses(await deps.store.nodes.list(), new Date()).map(nodeStatusJson) }),
    );
  };
