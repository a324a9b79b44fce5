// /api/deliveries: what rule actions delivered (every attempt), and queuing a finished or dead one again.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deliveryView } from '../../admin/rule-views.js';
import { InvalidArgumentError } from '../../errors.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, problemResponses } from '../deps.js';
import { decodeSortCursor, encodeSortCursor, parseSort, type SortOrder, sortParam } from '../sorting.js';

const attemptSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  ok: z.boolean(),
  latencyMs: z.number(),
  responseCode: z.number().int().nullable(),
  error: z.string().nullable(),
  output: z.string().nullable(),
});

export const deliverySchema = z
  .object({
    id: z.string(),
    rule: z.string(),
    action: z.number().int().describe("the action's position in the rule, from 1"),
    event: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'dead']),
    attempts: z.number().int(),
    created: z.string(),
    nextAttempt: z.string().nullable(),
    finished: z.string().nullable(),
    lastError: z.string().nullable(),
    fields: z.record(z.string(), z.string()).describe('the event fields the action was rendered with'),
    history: z.array(attemptSchema),
  })
  .meta({
    id: 'Delivery',
    example: {
      id: '0192f1c2-6a1b-7c3d-9e4f-5a6b7c8d9e0f',
      rule: 'partner-in',
      action: 1,
      event: 'upload',
      status: 'dead',
      attempts: 8,
      created: '2026-11-30T09:00:00.000Z',
      nextAttempt: null,
      finished: '2026-11-30T10:04:00.000Z',
      lastError: 'HTTP 503',
      fields: { event: 'upload', user: 'alice', path: '/outbound/acme/invoice.csv' },
      history: [
        {
          attempt: 8,
          at: '2026-11-30T10:04:00.000Z',
          ok: false,
          latencyMs: 41,
          responseCode: 503,
          error: 'HTTP 503',
          output: null,
        },
      ],
    },
  });

const idParams = z.object({ id: z.string().min(1).max(100) });

const DELIVERY_SORTS = ['created'] as const;

/** The cursor names the last delivery of a page (its creation time and id) under the list's sort. */
function decodeCursor(order: SortOrder, cursor: string): { createdAt: Date; id: string } {
  const { key, tie } = decodeSortCursor(order, cursor);
  const createdAt = typeof key === 'string' ? new Date(key) : new Date(Number.NaN);
  if (tie.length === 0 || tie.length > 100 || Number.isNaN(createdAt.getTime()))
    throw new InvalidArgumentError('cursor: not a cursor this API returned');
  return { createdAt, id: tie };
}

export const deliveryRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const rules = deps.admin.rules;
    const tags = ['rules'];

    app.get(
      '/api/deliveries',
      {
        config: { permission: 'rules:read' },
        schema: {
          tags,
          summary:
            'Deliveries of rule actions, newest first unless sorted otherwise, each with every attempt; paginated with a cursor',
          querystring: z.object({
            rule: z.string().min(1).max(200).optional().describe('only this rule'),
            status: z.enum(['pending', 'running', 'succeeded', 'dead']).optional(),
            failed: z
              .enum(['true', 'false'])
              .optional()
              .describe('true: only dead deliveries and those whose last attempt failed'),
            limit: z.coerce.number().int().min(1).max(1000).default(50).describe('items per page (1-1000)'),
            cursor: z.string().max(400).optional().describe('nextCursor of the previous page'),
            sort: sortParam(DELIVERY_SORTS, '-created'),
          }),
          response: { 200: pageOf(deliverySchema), ...problemResponses },
        },
      },
      async (request) => {
        const q = request.query;
        const order = parseSort(q.sort, DELIVERY_SORTS, '-created');
        const after = q.cursor !== undefined ? decodeCursor(order, q.cursor) : undefined;
        // One more than the page: whether there is a next page, without a count.
        const list = await rules.deliveries({
          limit: q.limit + 1,
          ...(after !== undefined ? { after } : {}),
          ...(order.descending ? {} : { oldestFirst: true }),
          ...(q.rule !== undefined ? { rule: q.rule } : {}),
          ...(q.status !== undefined ? { status: q.status } : {}),
          ...(q.failed !== undefined ? { failed: q.failed === 'true' } : {}),
        });
        const page = list.slice(0, q.limit).map(deliveryView);
        const last = page.at(-1);
        return {
          items: page,
          nextCursor: list.length > q.limit && last ? encodeSortCursor(order, last.created, last.id) : null,
        };
      },
    );

    app.get(
      '/api/deliveries/:id',
      {
        config: { permission: 'rules:read' },
        schema: {
          tags,
          summary: 'One delivery: its event fields and each attempt with its output',
          params: idParams,
          response: { 200: deliverySchema, ...problemResponses },
        },
      },
      async (request) => deliveryView(await rules.delivery(request.params.id)),
    );

    app.post(
      '/api/deliveries/:id/redeliver',
      {
        config: { permission: 'rules:redeliver' },
        schema: {
          tags,
          summary: 'Queue a finished or dead delivery again, due now, with the same id',
          params: idParams,
          response: { 200: deliverySchema, ...problemResponses },
        },
      },
      async (request) => {
        const redelivered = await rules.redeliver(actorOf(request), request.params.id);
        return deliveryView(await rules.delivery(redelivered.id));
      },
    );
  };
