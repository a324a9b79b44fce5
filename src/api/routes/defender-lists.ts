// /api/defender/allow and /api/defender/deny: the defender's lists. The config's entries are a fixed base (listed
// with source 'config', never removed here); entries added here are stored and apply in every process at once.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DefenderListView } from '../../admin/index.js';
import { DEFENDER_LISTS, type DefenderListName } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, contains, pageOf, pageQuerySchema, paginate, problemResponses } from '../deps.js';

const entrySchema = z
  .object({
    list: z.enum(DEFENDER_LISTS),
    cidr: z.string().describe('an address (192.0.2.7) or a CIDR (10.0.0.0/8, 2001:db8::/32)'),
    source: z
      .enum(['config', 'store'])
      .describe(
        "config: from the config's allowList/denyList, removable only there; store: added at run time",
      ),
    note: z.string(),
    createdBy: z.string().nullable().describe('the actor who added it (api:NAME, cli:USER); null for config'),
    created: z.string().nullable(),
  })
  .meta({
    id: 'DefenderListEntry',
    example: {
      list: 'deny',
      cidr: '198.51.100.0/24',
      source: 'store',
      note: 'scanner seen in the audit trail',
      createdBy: 'api:ops',
      created: '2026-11-30T09:00:00.000Z',
    },
  });

const WHAT: Record<DefenderListName, string> = {
  allow: 'never banned, scored or limited per address',
  deny: 'refused before authentication on every protocol',
};

/** Config entries first, then stored ones, each by CIDR: a stable order for the cursor. */
const pageKey = (e: DefenderListView) => `${e.source === 'config' ? 0 : 1}${e.cidr}`;

export const defenderListRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const defender = deps.admin.defender;
    const tags = ['defender'];
    for (const list of DEFENDER_LISTS) {
      app.get(
        `/api/defender/${list}`,
        {
          config: { permission: 'defender:read' },
          schema: {
            tags,
            summary: `The ${list} list (${WHAT[list]}): the config's entries, then those added at run time`,
            querystring: pageQuerySchema.extend({
              source: z
                .enum(['config', 'store'])
                .optional()
                .describe('only entries from the config, or only those added at run time')
                .meta({ example: 'store' }),
              search: z
                .string()
                .max(100)
                .optional()
                .describe('only entries containing this text')
                .meta({ example: '198.51.' }),
            }),
            response: { 200: pageOf(entrySchema), ...problemResponses },
          },
        },
        async (request) => {
          const { source, search } = request.query;
          const entries = (await defender.entries(list)).filter(
            (e) => (source === undefined || e.source === source) && contains(e.cidr, search),
          );
          return paginate(entries, pageKey, request.query);
        },
      );

      app.post(
        `/api/defender/${list}`,
        {
          config: { permission: 'defender:write' },
          schema: {
            tags,
            summary: `Put an address or CIDR on the ${list} list: every process applies it from its next check`,
            body: z
              .object({
                cidr: z.string().min(1).max(100),
                note: z.string().max(200).optional().describe('why (shown in listings)'),
              })
              .strict()
              .meta({
                example: {
                  cidr: list === 'deny' ? '198.51.100.0/24' : '203.0.113.0/24',
                  note: list === 'deny' ? 'scanner seen in the audit trail' : 'partner office',
                },
              }),
            response: { 201: entrySchema, ...problemResponses },
          },
        },
        async (request, reply) => {
          const entry = await defender.addEntry(actorOf(request), { list, ...request.body });
          return reply
            .code(201)
            .header('location', `/api/defender/${list}/${encodeURIComponent(entry.cidr)}`)
            .send(entry);
        },
      );

      app.delete(
        `/api/defender/${list}/:cidr`,
        {
          config: { permission: 'defender:write' },
          schema: {
            tags,
            summary: `Take an entry added at run time off the ${list} list (a config entry is refused: 403)`,
            params: z.object({
              cidr: z.string().min(1).max(100).describe('the address or CIDR, its / written %2F'),
            }),
            response: { 204: z.null().describe('removed'), ...problemResponses },
          },
        },
        async (request, reply) => {
          await defender.removeEntry(actorOf(request), list, request.params.cidr);
          return reply.code(204).send(null);
        },
      );
    }
  };
