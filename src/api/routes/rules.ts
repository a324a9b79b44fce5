// /api/rules and /api/deliveries: event rules over the rule admin service (the CLI's `ferry rules`), never a secret.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RuleInput, RulePatch } from '../../admin/rules.js';
import { ruleView } from '../../admin/rules.js';
import type { RuleRecord } from '../../store/automation-types.js';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, pageQuerySchema, paginate, problemResponses } from '../deps.js';
import { deliveryRoutes } from './deliveries.js';
import { sampleBody } from './rule-sample.js';
import { ruleImportRoutes } from './rules-import.js';
import { ruleRunRoutes } from './rules-run.js';

const EXAMPLE_ACTION = { kind: 'webhook', url: 'https://hooks.example.com/ferry', timeout: 10 };

export const ruleSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    enabled: z.boolean(),
    events: z.array(z.string()),
    schedule: z.string().optional(),
    conditions: z.record(z.string(), z.unknown()),
    actions: z.array(z.record(z.string(), z.unknown())),
    hookTimeoutMs: z.number().int().optional(),
    onHookFailure: z.enum(['deny', 'allow']).optional(),
    maxAttempts: z.number().int().optional(),
    secret: z.enum(['(set)', 'none']).describe('whether a webhook signing secret is held; never the secret'),
    created: z.string(),
    updated: z.string(),
  })
  .meta({
    id: 'Rule',
    example: {
      name: 'partner-in',
      enabled: true,
      events: ['upload'],
      conditions: { paths: ['/outbound/acme/**'], status: 'ok' },
      actions: [EXAMPLE_ACTION],
      secret: '(set)',
      created: '2026-11-30T09:00:00.000Z',
      updated: '2026-11-30T09:00:00.000Z',
    },
  });

// The shape only: the rule service checks every field (events, conditions, each action kind) with the same
// schema as `ferry rules add` and `ferry rules import`, so the errors are the same too.
const secretField = z
  .string()
  .min(1)
  .max(1024)
  .describe('the webhook signing secret (write-only: never shown again)');
const addBody = z
  .object({
    name: z.string().min(1).max(64),
    description: z.string().max(500).optional(),
    enabled: z.boolean().optional(),
    events: z.array(z.string()).min(1).max(50),
    conditions: z.record(z.string(), z.unknown()).optional(),
    actions: z.array(z.record(z.string(), z.unknown())).min(1).max(20),
    schedule: z.string().optional(),
    hookTimeoutMs: z.number().int().optional(),
    onHookFailure: z.enum(['deny', 'allow']).optional(),
    maxAttempts: z.number().int().optional(),
    secret: secretField.optional(),
  })
  .strict()
  .meta({
    example: {
      name: 'partner-in',
      events: ['upload'],
      conditions: { paths: ['/outbound/acme/**'] },
      actions: [EXAMPLE_ACTION],
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    },
  });

const patchBody = z
  .object({
    description: z.string().max(500).nullable().optional(),
    events: z.array(z.string()).min(1).max(50).optional(),
    conditions: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('each condition given replaces that one; null removes it'),
    actions: z.array(z.record(z.string(), z.unknown())).min(1).max(20).optional(),
    schedule: z.string().nullable().optional(),
    hookTimeoutMs: z.number().int().nullable().optional(),
    onHookFailure: z.enum(['deny', 'allow']).nullable().optional(),
    maxAttempts: z.number().int().nullable().optional(),
    secret: secretField.nullable().optional().describe('a new webhook signing secret; null removes it'),
  })
  .strict()
  .meta({ example: { conditions: { paths: ['/outbound/**'], users: null }, maxAttempts: 12 } });

const dryRunSchema = z
  .object({
    rule: z.string(),
    enabled: z.boolean(),
    event: z.string(),
    fields: z.record(z.string(), z.string()),
    fires: z.boolean(),
    wouldRun: z.array(z.record(z.string(), z.unknown())),
  })
  .meta({
    example: {
      rule: 'partner-in',
      enabled: true,
      event: 'upload',
      fields: { event: 'upload', user: 'test', path: '/outbound/acme/invoice.csv', size: '2048' },
      fires: true,
      wouldRun: [EXAMPLE_ACTION],
    },
  });

/** The service's view (the CLI's --json), typed as the wire schema's open records. */
const view = (r: RuleRecord) => ruleView(r) as unknown as z.infer<typeof ruleSchema>;

const nameParams = z.object({ name: z.string().min(1).max(200) });

export const ruleRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const rules = deps.admin.rules;
    const read = { permission: 'rules:read' } as const;
    const write = { permission: 'rules:write' } as const;
    const tags = ['rules'];

    app.get(
      '/api/rules',
      {
        config: read,
        schema: {
          tags,
          summary: 'List rules (paginated by name)',
          querystring: pageQuerySchema,
          response: { 200: pageOf(ruleSchema), ...problemResponses },
        },
      },
      async (request) => paginate((await rules.list()).map(view), (r) => r.name, request.query),
    );

    app.post(
      '/api/rules',
      {
        config: write,
        schema: {
          tags,
          summary: 'Define a rule: events, conditions, actions (a webhook needs a secret)',
          body: addBody,
          response: { 201: ruleSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { secret, ...input } = request.body;
        const rule = await rules.add(
          actorOf(request),
          input as RuleInput,
          secret === undefined ? undefined : new Secret(secret),
        );
        return reply
          .code(201)
          .header('location', `/api/rules/${encodeURIComponent(rule.name)}`)
          .send(view(rule));
      },
    );

    app.get(
      '/api/rules/:name',
      {
        config: read,
        schema: {
          tags,
          summary: 'Show a rule',
          params: nameParams,
          response: { 200: ruleSchema, ...problemResponses },
        },
      },
      async (request) => view(await rules.get(request.params.name)),
    );

    app.patch(
      '/api/rules/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Change a rule (null removes a setting); answers the rule and what changed',
          params: nameParams,
          body: patchBody,
          response: {
            200: z
              .object({ rule: ruleSchema, changed: z.array(z.string()) })
              .meta({ example: { rule: ruleSchema.meta()?.example, changed: ['conditions'] } }),
            ...problemResponses,
          },
        },
      },
      async (request) => {
        const { secret, ...patch } = request.body;
        const { rule, changed } = await rules.set(
          actorOf(request),
          request.params.name,
          patch as RulePatch,
          secret === undefined ? undefined : secret === null ? null : new Secret(secret),
        );
        return { rule: view(rule), changed };
      },
    );

    app.delete(
      '/api/rules/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Remove a rule (its past deliveries stay listed)',
          params: nameParams,
          response: { 204: z.null().describe('removed'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await rules.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );

    for (const [action, enabled] of [
      ['enable', true],
      ['disable', false],
    ] as const) {
      app.post(
        `/api/rules/:name/${action}`,
        {
          config: write,
          schema: {
            tags,
            summary: enabled ? 'Turn a rule on' : 'Turn a rule off (it keeps its deliveries)',
            params: nameParams,
            response: { 200: ruleSchema, ...problemResponses },
          },
        },
        async (request) => {
          await rules.setEnabled(actorOf(request), request.params.name, enabled);
          return view(await rules.get(request.params.name));
        },
      );
    }

    app.post(
      '/api/rules/:name/test',
      {
        config: read,
        schema: {
          tags,
          summary: 'Whether the rule fires for a sample event, and what it would run (nothing runs)',
          params: nameParams,
          // No body at all is the sample's defaults.
          body: sampleBody
            .nullable()
            .optional()
            .meta({ example: { path: '/outbound/acme/invoice.csv', size: 2048 } }),
          response: { 200: dryRunSchema, ...problemResponses },
        },
      },
      async (request) => rules.test(request.params.name, request.body ?? {}),
    );

    await app.register(deliveryRoutes(deps));
    await app.register(ruleImportRoutes(deps));
    await app.register(ruleRunRoutes(deps));
  };
