// Public endpoints for load balancers, Kubernetes and Prometheus: /healthz, /readyz, /metrics.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { diskOf, storeReachable } from './operations.js';

const readySchema = z
  .object({
    status: z.enum(['ready', 'not-ready']),
    checks: z.object({
      store: z.boolean(),
      listeners: z.boolean(),
      disk: z.boolean(),
      audit: z.boolean(),
      /** False while the process drains before it stops (SIGTERM): open transfers finish, new clients go elsewhere. */
      accepting: z.boolean(),
    }),
    reason: z.string().optional(),
  })
  .meta({
    id: 'Readiness',
    example: {
      status: 'ready',
      checks: { store: true, listeners: true, disk: true, audit: true, accepting: true },
    },
  });

export const probeRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const config = { permission: 'public' } as const;

    app.get(
      '/healthz',
      {
        config,
        schema: {
          tags: ['probes'],
          security: [],
          summary: 'The process is up (liveness)',
          response: { 200: z.object({ status: z.literal('ok') }).meta({ example: { status: 'ok' } }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/readyz',
      {
        config,
        schema: {
          tags: ['probes'],
          security: [],
          summary:
            'Ready for traffic: store reachable, SFTP listening, disk not full, audit writable, not draining',
          response: { 200: readySchema, 503: readySchema },
        },
      },
      async (_request, reply) => {
        const disk = await diskOf(deps.config.dataDir);
        // "Full" is the operator's low-space threshold when set, else less than 1 %.
        const minimum = deps.config.diskSpaceLowPercent > 0 ? deps.config.diskSpaceLowPercent : 1;
        const checks = {
          // The rules outbox failing to store deliveries is the store failing to write.
          store: (await storeReachable(deps)) && deps.health.isHealthy('outbox'),
          listeners: deps.listeners().some((l) => l.name === 'sftp'),
          disk: disk !== null && disk.freePercent >= minimum,
          audit: deps.health.isHealthy('audit'),
          accepting: deps.health.draining === undefined,
        };
        const failed = Object.entries(checks)
          .filter(([, ok]) => !ok)
          .map(([name]) => name);
        if (failed.length === 0) return { status: 'ready' as const, checks };
        return reply.code(503).send({ status: 'not-ready', checks, reason: `failing: ${failed.join(', ')}` });
      },
    );

    app.get(
      '/metrics',
      {
        config,
        schema: {
          tags: ['probes'],
          security: [],
          summary: 'Prometheus metrics (text format 0.0.4), summed over every worker process',
          produces: ['text/plain'],
          response: {
            200: z.string().meta({
              example:
                '# HELP ferry_logins_total …\nferry_logins_total{method="password",result="ok",pid="4242"} 3\n',
            }),
          },
        },
      },
      async (_request, reply) => {
        const text = await deps.metrics.text(deps.gather ? await deps.gather('metrics') : undefined);
        return reply.type(deps.metrics.registry.contentType).send(text);
      },
    );
  };
