// Live sessions, partners and jobs (list, show, run now) and the server's status.
import { statfs } from 'node:fs/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { jobView } from '../../admin/jobs.js';
import type { PartnerRecord, TransferRunRecord } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, listOf, pageOf, pageQuerySchema, paginate, problemResponses } from '../deps.js';

const sessionSchema = z
  .object({
    id: z.string(),
    remoteAddress: z.string(),
    protocol: z.string(),
    username: z.string().nullable(),
    client: z.string().nullable(),
    connectedAt: z.string(),
    bytesUp: z.number(),
    bytesDown: z.number(),
    filesUp: z.number(),
    filesDown: z.number(),
    pid: z.number().int(),
  })
  .meta({
    id: 'Session',
    example: {
      id: '3f9a1c2b7d4e',
      remoteAddress: '192.0.2.10',
      protocol: 'sftp',
      username: 'alice',
      client: 'SSH-2.0-OpenSSH_9.6',
      connectedAt: '2026-11-30T09:00:00.000Z',
      bytesUp: 1048576,
      bytesDown: 0,
      filesUp: 1,
      filesDown: 0,
      pid: 4242,
    },
  });

const partnerSchema = z
  .object({
    name: z.string(),
    host: z.string(),
    port: z.number().int(),
    username: z.string(),
    password: z.boolean(),
    clientKey: z.string().nullable(),
    hostKey: z.string().nullable(),
    renameUploads: z.boolean(),
    readBack: z.boolean(),
    created: z.string(),
  })
  .meta({
    id: 'Partner',
    example: {
      name: 'acme',
      host: 'sftp.acme.example',
      port: 22,
      username: 'ferry',
      password: false,
      clientKey: 'acme-key',
      hostKey: 'ssh-ed25519 SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE',
      renameUploads: true,
      readBack: false,
      created: '2026-11-30T09:00:00.000Z',
    },
  });

function partnerView(p: PartnerRecord): z.infer<typeof partnerSchema> {
  return {
    name: p.name,
    host: p.host,
    port: p.port,
    username: p.username,
    password: p.passwordSealed !== null,
    clientKey: p.clientKey,
    hostKey: p.hostKeyAlgorithm && p.hostKeySha256 ? `${p.hostKeyAlgorithm} ${p.hostKeySha256}` : null,
    renameUploads: p.renameUploads,
    readBack: p.readBack,
    created: p.createdAt.toISOString(),
  };
}

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

const statusSchema = z
  .object({
    version: z.string(),
    pid: z.number().int(),
    startedAt: z.string(),
    uptimeSeconds: z.number(),
    health: z.object({ status: z.string(), reason: z.string().optional() }),
    listeners: z.array(z.object({ name: z.string(), address: z.string(), port: z.number().int() })),
    store: z.object({ driver: z.string(), reachable: z.boolean() }),
    disk: z.object({ path: z.string(), freeBytes: z.number(), freePercent: z.number() }).nullable(),
    sessions: z.number().int(),
  })
  .meta({
    id: 'Status',
    example: {
      version: '0.1.0',
      pid: 4242,
      startedAt: '2026-11-30T09:00:00.000Z',
      uptimeSeconds: 3600,
      health: { status: 'healthy' },
      listeners: [
        { name: 'sftp', address: '0.0.0.0', port: 2222 },
        { name: 'http', address: '127.0.0.1', port: 8080 },
      ],
      store: { driver: 'sqlite', reachable: true },
      disk: { path: '/var/lib/ferry', freeBytes: 52_428_800_000, freePercent: 61.5 },
      sessions: 3,
    },
  });

/** Free space of the data dir's file system, or null when it cannot be read. */
export async function diskOf(
  path: string,
): Promise<{ path: string; freeBytes: number; freePercent: number } | null> {
  try {
    const s = await statfs(path);
    return {
      path,
      freeBytes: s.bavail * s.bsize,
      freePercent: s.blocks > 0 ? Math.round((s.bavail / s.blocks) * 1000) / 10 : 100,
    };
  } catch {
    return null;
  }
}

/** True when a trivial read of the store answers. */
export async function storeReachable(deps: ApiDeps): Promise<boolean> {
  try {
    await deps.store.apiAdmins.get('');
    return true;
  } catch {
    return false;
  }
}

export const operationRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/sessions',
      {
        config: { permission: 'sessions:read' },
        schema: {
          tags: ['sessions'],
          summary: 'Open SSH connections of the worker process that answers (each worker holds its own)',
          response: { 200: listOf(sessionSchema), ...problemResponses },
        },
      },
      async () => ({
        items: deps.sessions
          .list()
          .map((s) => ({ ...s, connectedAt: s.connectedAt.toISOString(), pid: process.pid })),
      }),
    );

    app.get(
      '/api/partners',
      {
        config: { permission: 'partners:read' },
        schema: {
          tags: ['partners'],
          summary: 'List partners (paginated by name)',
          querystring: pageQuerySchema,
          response: { 200: pageOf(partnerSchema), ...problemResponses },
        },
      },
      async (request) => {
        const page = paginate(await deps.admin.partners.list(), (p) => p.name, request.query);
        return { items: page.items.map(partnerView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/api/partners/:name',
      {
        config: { permission: 'partners:read' },
        schema: {
          tags: ['partners'],
          summary: 'Show a partner',
          params: nameParams,
          response: { 200: partnerSchema, ...problemResponses },
        },
      },
      async (request) => partnerView(await deps.admin.partners.get(request.params.name)),
    );

    app.get(
      '/api/jobs',
      {
        config: { permission: 'jobs:read' },
        schema: {
          tags: ['jobs'],
          summary: 'List transfer jobs (paginated by name)',
          querystring: pageQuerySchema,
          response: { 200: pageOf(jobSchema), ...problemResponses },
        },
      },
      async (request) => {
        const page = paginate(await deps.admin.jobs.list(), (j) => j.name, request.query);
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

    app.get(
      '/api/status',
      {
        config: { permission: 'status:read' },
        schema: {
          tags: ['status'],
          summary: 'Version, uptime, health, listeners, store and disk of the answering process',
          response: { 200: statusSchema, ...problemResponses },
        },
      },
      async () => {
        const health = deps.health.report();
        return {
          version: deps.version,
          pid: process.pid,
          startedAt: deps.startedAt.toISOString(),
          uptimeSeconds: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
          health: { status: health.status, ...(health.reason ? { reason: health.reason } : {}) },
          listeners: [...deps.listeners()],
          store: { driver: deps.config.store.driver, reachable: await storeReachable(deps) },
          disk: await diskOf(deps.config.dataDir),
          sessions: deps.sessions.list().length,
        };
      },
    );
  };
