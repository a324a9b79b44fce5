// /api/defender: scored and banned addresses (paginated, filtered), and lifting a ban (an admin event).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DefenderHost } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, contains, pageOf, pageQuerySchema, paginate, problemResponses } from '../deps.js';

const hostSchema = z
  .object({
    address: z.string(),
    score: z.number(),
    banned: z.boolean(),
    bannedUntil: z.string().nullable(),
    banCount: z.number().int(),
    lastReason: z.string(),
    updated: z.string(),
  })
  .meta({
    id: 'DefenderHost',
    example: {
      address: '198.51.100.7',
      score: 0,
      banned: true,
      bannedUntil: '2026-11-30T09:10:00.000Z',
      banCount: 1,
      lastReason: 'login failed',
      updated: '2026-11-30T09:00:00.000Z',
    },
  });

function view(h: DefenderHost, now: Date): z.infer<typeof hostSchema> {
  return {
    address: h.address,
    score: h.score,
    banned: h.bannedUntil !== null && h.bannedUntil > now,
    bannedUntil: h.bannedUntil?.toISOString() ?? null,
    banCount: h.banCount,
    lastReason: h.lastReason,
    updated: h.updatedAt.toISOString(),
  };
}

export const defenderRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const defender = deps.admin.defender;
    const tags = ['defender'];

    app.get(
      '/api/defender',
      {
        config: { permission: 'defender:read' },
        schema: {
          tags,
          summary: 'Addresses the defender scored or banned (paginated by address)',
          querystring: pageQuerySchema.extend({
            banned: z
              .enum(['true', 'false'])
              .optional()
              .describe('true: only addresses banned now')
              .meta({ example: 'true' }),
            search: z
              .string()
              .max(100)
              .optional()
              .describe('only addresses containing this text')
              .meta({ example: '198.51.100.' }),
          }),
          response: { 200: pageOf(hostSchema), ...problemResponses },
        },
      },
      async (request) => {
        const now = new Date();
        const { banned, search } = request.query;
        const hosts = (await defender.list({ bannedOnly: banned === 'true', now })).filter((h) =>
          contains(h.address, search),
        );
        const page = paginate(hosts, (h) => h.address, request.query);
        return { items: page.items.map((h) => view(h, now)), nextCursor: page.nextCursor };
      },
    );

    app.delete(
      '/api/defender/:address',
      {
        config: { permission: 'defender:write' },
        schema: {
          tags,
          summary: "Lift an address' ban and forget its score",
          params: z.object({ address: z.string().min(1).max(100) }),
          response: { 204: z.null().describe('unbanned'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await defender.unban(actorOf(request), request.params.address);
        return reply.code(204).send(null);
      },
    );
  };
