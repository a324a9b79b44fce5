// POST /api/rules/{name}/test/run: `ferry rules test --run` over HTTP. When the sample event fires the rule, its
// actions run once now (webhooks sent, files moved, commands run), recorded first; not a delivery, not retried.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { sampleBody } from './rule-sample.js';

const runSchema = z
  .object({
    rule: z.string(),
    event: z.string(),
    fields: z.record(z.string(), z.string()).describe('the sample event the actions ran with'),
    fires: z.boolean().describe('false: nothing ran'),
    counted: z
      .object({ counts: z.boolean(), note: z.string() })
      .optional()
      .describe('a counting rule: whether the sample counts, and why one event alone is not enough'),
    ran: z.array(
      z.object({
        action: z.number().int().describe("the action's position in the rule, from 1"),
        kind: z.string(),
        ok: z.boolean(),
        responseCode: z.number().int().nullable(),
        error: z.string().nullable(),
        latencyMs: z.number(),
      }),
    ),
  })
  .meta({
    example: {
      rule: 'partner-in',
      event: 'upload',
      fields: { event: 'upload', user: 'test', path: '/outbound/acme/invoice.csv', size: '2048' },
      fires: true,
      ran: [{ action: 1, kind: 'webhook', ok: true, responseCode: 200, error: null, latencyMs: 41 }],
    },
  });

export const ruleRunRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/api/rules/:name/test/run',
      {
        // As strong as defining the rule: a command action runs a program as the server, with the sample's fields.
        config: { permission: 'rules:write' },
        schema: {
          tags: ['rules'],
          summary:
            "Run a rule's actions once now for a sample event, when it fires for it (as `ferry rules test --run`): not a delivery, not retried",
          params: z.object({ name: z.string().min(1).max(200) }),
          // No body at all is the sample's defaults.
          body: sampleBody
            .nullable()
            .optional()
            .meta({ example: { path: '/inbound/acme/invoice.csv', user: 'acme', size: 2048 } }),
          response: { 200: runSchema, ...problemResponses },
        },
      },
      async (request) => {
        const run = await deps.admin.rules.testRun(actorOf(request), request.params.name, request.body ?? {});
        return {
          rule: run.dry.rule,
          event: run.dry.event,
          fields: run.fields as Record<string, string>,
          fires: run.fires,
          ...(run.counted ? { counted: run.counted } : {}),
          ran: [...run.ran],
        };
      },
    );
  };
