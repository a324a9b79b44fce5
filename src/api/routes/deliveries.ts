// /api/deliveries: what rule actions delivered (every attempt), and queuing a finished or dead one again.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deliveryView } from '../../admin/rule-views.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, listOf, problemResponses } from '../deps.js';

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
          summary: 'Deliveries of rule actions, newest first, each with every attempt',
          querystring: z.object({
            rule: z.string().min(1).max(200).optional().describe('only this rule'),
            status: z.enum(['pending', 'running', 'succeeded', 'dead']).optional(),
            failed: z
              .enum(['true', 'false'])
              .optional()
              .describe('true: only dead deliveries and those whose last attempt failed'),
            limit: z.coerce.number().int().min(1).max(1000).default(50).describe('how many (1-1000)'),
          }),
          response: { 200: listOf(deliverySchema), ...problemResponses },
        },
      },
      async (request) => {
        const q = request.query;
        const list = await rules.deliveries({
          limit: q.limit,
          ...(q.rule !== undefined ? { rule: q.rule } : {}),
          ...(q.status !== undefined ? { status: q.status } : {}),
          ...(q.failed !== undefined ? { failed: q.failed === 'true' } : {}),
        });
        return { items: list.map(deliveryView) };
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
