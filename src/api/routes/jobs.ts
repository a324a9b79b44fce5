// /api/jobs: transfer jobs (define, change, run now with the run's result, remove) and their recent runs.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { jobView } from '../../admin/jobs.js';
import { InvalidArgumentError, NotFoundError } from '../../errors.js';
import type { TransferJobRecord, TransferRunRecord } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, pageQuerySchema, problemResponses } from '../deps.js';
import { parseSort, type SortKeys, sortedPage, sortParam } from '../sorting.js';

const jobSchema = z
  .object({
    name: z.string(),
    partner: z.string(),
    direction: z.string(),
    remoteDir: z.string(),
    localDir: z.string(),
    pattern: z.string(),
    schedule: z.string().nullable(),
    after: z.string(),
    retries: z.number().int(),
    backoff: z.string(),
    enabled: z.boolean(),
  })
  .meta({
    id: 'Job',
    example: {
      name: 'acme-invoices',
      partner: 'acme',
      direction: 'pull',
      remoteDir: '/out',
      localDir: '/srv/invoices',
      pattern: '*.csv',
      schedule: '*/5 * * * *',
      after: 'keep',
      retries: 3,
      backoff: '30s',
      enabled: true,
    },
  });

const runSchema = z
  .object({
    id: z.number().int(),
    job: z.string(),
    trigger: z.string(),
    status: z.string(),
    attempts: z.number().int(),
    started: z.string(),
    finished: z.string().nullable(),
    durationMs: z.number(),
    bytes: z.number(),
    files: z.array(z.unknown()),
    error: z.string().nullable(),
  })
  .meta({
    id: 'JobRun',
    example: {
      id: 7,
      job: 'acme-invoices',
      trigger: 'manual',
      status: 'succeeded',
      attempts: 1,
      started: '2026-11-30T09:00:00.000Z',
      finished: '2026-11-30T09:00:02.000Z',
      durationMs: 2000,
      bytes: 5120,
      files: [{ name: 'a.csv', bytes: 5120 }],
      error: null,
    },
  });

function runView(r: TransferRunRecord): z.infer<typeof runSchema> {
  return {
    id: r.id,
    job: r.job,
    trigger: r.trigger,
    status: r.status,
    attempts: r.attempts,
    started: r.startedAt.toISOString(),
    finished: r.finishedAt?.toISOString() ?? null,
    durationMs: r.durationMs,
    bytes: r.bytes,
    files: JSON.parse(JSON.stringify(r.files)) as unknown[],
    error: r.error,
  };
}

const nameParams = z.object({ name: z.string().min(1).max(200) });
const runParams = nameParams.extend({
  id: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER - 1),
});

const JOB_SORTS = ['name', 'partner', 'direction', 'schedule'] as const;
const JOB_SORT_KEYS: SortKeys<TransferJobRecord, (typeof JOB_SORTS)[number]> = {
  name: (j) => j.name,
  partner: (j) => j.partner,
  direction: (j) => j.direction,
  schedule: (j) => j.schedule ?? '',
};

/** A run id from a cursor this API gave out. */
function runCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw new InvalidArgumentError('cursor: not a cursor this API returned');
  return id;
}

const createBody = z
  .object({
    name: z.string().min(1).max(200),
    partner: z.string().min(1),
    direction: z.enum(['pull', 'push']),
    remoteDir: z.string().min(1),
    localDir: z.string().min(1),
    pattern: z.string().min(1).optional().describe("comma-separated globs (default '*')"),
    schedule: z.string().min(1).nullable().optional().describe('cron expression; null: by hand only'),
    after: z.string().min(1).optional().describe('keep, delete or move:DIR'),
    retries: z.number().int().min(0).max(100).optional(),
    backoffMs: z.number().int().min(0).optional(),
  })
  .strict()
  .meta({
    example: {
      name: 'acme-invoices',
      partner: 'acme',
      direction: 'pull',
      remoteDir: '/out',
      localDir: '/srv/invoices',
      pattern: '*.csv',
      schedule: '*/5 * * * *',
    },
  });

const patchBody = z
  .object({
    schedule: z.string().min(1).nullable().optional(),
    retries: z.number().int().min(0).max(100).optional(),
    backoffMs: z.number().int().min(0).optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .meta({ example: { schedule: '0 2 * * *', enabled: true } });

export const jobRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const jobs = deps.admin.jobs;
    const write = { permission: 'jobs:write' } as const;
    const tags = ['jobs'];

    app.get(
      '/api/jobs',
      {
        config: { permission: 'jobs:read' },
        schema: {
          tags: ['jobs'],
          summary: 'List transfer jobs (paginated; by name unless sorted otherwise)',
          querystring: pageQuerySchema.extend({ sort: sortParam(JOB_SORTS, 'name') }),
          response: { 200: pageOf(jobSchema), ...problemResponses },
        },
      },
      async (request) => {
        const order = parseSort(request.query.sort, JOB_SORTS, 'name');
        const page = sortedPage(
          await deps.admin.jobs.list(),
          JOB_SORT_KEYS,
          (j) => j.name,
          order,
          request.query,
        );
        return { items: page.items.map(jobView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/api/jobs/:name',
      {
        config: { permission: 'jobs:read' },
        schema: {
          tags: ['jobs'],
          summary: 'Show a job with its recent runs (newest first)',
          params: nameParams,
          response: {
            200: jobSchema.extend({ runs: z.array(runSchema) }).meta({
              example: { ...(jobSchema.meta()?.example as object), runs: [runSchema.meta()?.example] },
            }),
            ...problemResponses,
          },
        },
      },
      async (request) => {
        const job = await deps.admin.jobs.get(request.params.name);
        const runs = await deps.admin.jobs.history(job.name, 20);
        return { ...jobView(job), runs: runs.map(runView) };
      },
    );

    // Newest first; the cursor is the last run id of the previous page (ids only grow), opaque to clients.
    app.get(
      '/api/jobs/:name/runs',
      {
        config: { permission: 'jobs:read' },
        schema: {
          tags: ['jobs'],
          summary: "A job's run history, newest first (paginated)",
          params: nameParams,
          querystring: pageQuerySchema,
          response: { 200: pageOf(runSchema), ...problemResponses },
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const before = cursor === undefined ? undefined : runCursor(cursor);
        // One more than asked shows whether a next page exists.
        const runs = await deps.admin.jobs.history(request.params.name, limit + 1, before);
        const page = runs.slice(0, limit);
        const last = page.at(-1);
        const nextCursor =
          runs.length > limit && last ? Buffer.from(String(last.id), 'utf8').toString('base64url') : null;
        return { items: page.map(runView), nextCursor };
      },
    );

    app.get(
      '/api/jobs/:name/runs/:id',
      {
        config: { permission: 'jobs:read' },
        schema: {
          tags: ['jobs'],
          summary: 'One run of a job with its per-file results',
          params: runParams,
          response: { 200: runSchema, ...problemResponses },
        },
      },
      async (request) => {
        const { name, id } = request.params;
        const [run] = await deps.admin.jobs.history(name, 1, id + 1);
        if (!run || run.id !== id) throw new NotFoundError(`job ${name} has no run ${id}`);
        return runView(run);
      },
    );

    app.post(
      '/api/jobs/:name/run',
      {
        config: { permission: 'jobs:run' },
        schema: {
          tags: ['jobs'],
          summary: 'Run a job now and wait for its result (refused while it runs elsewhere)',
          params: nameParams,
          response: { 200: runSchema, ...problemResponses },
        },
      },
      async (request) => runView(await deps.admin.jobs.run(actorOf(request), request.params.name)),
    );

    app.post(
      '/api/jobs',
      {
        config: write,
        schema: {
          tags,
          summary: 'Define a job',
          body: createBody,
          response: { 201: jobSchema, ...problemResponses },
        },
      },
      async (request, reply) => reply.code(201).send(jobView(await jobs.add(actorOf(request), request.body))),
    );

    app.patch(
      '/api/jobs/:name',
      {
        config: write,
        schema: {
          tags,
          summary: "Change a job's schedule, retries, backoff, or turn its schedule on or off",
          params: nameParams,
          body: patchBody,
          response: { 200: jobSchema, ...problemResponses },
        },
      },
      async (request) =>
        jobView(await jobs.set(actorOf(request), { name: request.params.name, ...request.body })),
    );

    app.delete(
      '/api/jobs/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Remove a job with its history',
          params: nameParams,
          response: { 204: z.null().describe('removed'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await jobs.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
