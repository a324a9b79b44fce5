// Live sessions of this process and the server's status (plus the disk and store checks /readyz shares).
import { statfs } from 'node:fs/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isWebSessionId, type KilledSession } from '../../admin/index.js';
import type { WebSessionRecord } from '../../store/types.js';
import { workerTaskId } from '../../util/worker-task-id.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, contains, pageOf, pageQuerySchema, problemResponses } from '../deps.js';
import type { SessionActivity } from '../live-sessions.js';
import { parseSort, type SortKeys, sortedPage, sortParam } from '../sorting.js';

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
    transfer: z
      .object({
        direction: z.enum(['upload', 'download']),
        path: z.string(),
        bytes: z.number(),
        startedAt: z.string(),
        bytesPerSecond: z.number().describe('average since the transfer started'),
      })
      .nullable()
      .describe('the file being moved right now (SFTP, SCP and FTPS; null when idle or not known)'),
    pid: z.number().int(),
    node: z.string().optional().describe('the node holding the connection (cluster mode: `--node-id`)'),
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
      transfer: {
        direction: 'upload',
        path: '/inbox/orders.csv',
        bytes: 524288,
        startedAt: '2026-11-30T09:59:58.000Z',
        bytesPerSecond: 262144,
      },
      pid: 4242,
      node: 'web1:2222',
    },
  });

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
    workers: z
      .array(z.number().int())
      .describe(
        'pids of the serving processes of this node that answered (`serve --workers N`: one per worker)',
      ),
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
      workers: [4242, 4243],
    },
  });

type SessionView = z.infer<typeof sessionSchema>;

const SESSION_SORTS = ['since', 'user', 'address', 'protocol', 'up', 'down'] as const;
const SESSION_SORT_KEYS: SortKeys<SessionView, (typeof SESSION_SORTS)[number]> = {
  since: (s) => s.connectedAt,
  user: (s) => s.username ?? '',
  address: (s) => s.remoteAddress,
  protocol: (s) => s.protocol,
  up: (s) => s.bytesUp,
  down: (s) => s.bytesDown,
};

/** A running transfer with its average rate; under a millisecond in, the rate is taken over one. */
function transferView(a: SessionActivity): NonNullable<SessionView['transfer']> {
  const seconds = Math.max(Date.now() - a.startedAt.getTime(), 1) / 1000;
  return { ...a, startedAt: a.startedAt.toISOString(), bytesPerSecond: Math.round(a.bytes / seconds) };
}

/** This process' open connections as /api/sessions lists them (a worker's part of the cluster's list). */
export function localSessions(deps: Pick<ApiDeps, 'sessions' | 'cluster'>): SessionView[] {
  const node = deps.cluster?.nodeId;
  return deps.sessions.list().map((s) => {
    const activity = deps.sessions.activityOf(s.id);
    return {
      ...s,
      connectedAt: s.connectedAt.toISOString(),
      transfer: activity ? transferView(activity) : null,
      pid: workerTaskId,
      ...(node !== undefined ? { node } : {}),
    };
  });
}

/**
 * This node's connections (every worker's, unauthenticated ones included) and the logged-in sessions other nodes
 * recorded in the store, each once.
 */
async function allSessions(deps: ApiDeps): Promise<SessionView[]> {
  // Under --workers N every worker's connections (through the primary), else this process' own.
  const parts = deps.gather ? await deps.gather('sessions') : [localSessions(deps)];
  const items = (parts as SessionView[][]).flat();
  // Web client sign-ins belong to no connection: every node honours their cookie, so they are read from the store.
  for (const s of await deps.store.webSessions.list(new Date())) items.push(webSessionView(s));
  if (!deps.cluster) return items;
  const seen = new Set(items.map((s) => s.id));
  for (const s of await deps.cluster.sessions.list()) {
    if (seen.has(s.id)) continue;
    items.push({
      id: s.id,
      remoteAddress: s.remoteAddress,
      protocol: s.protocol,
      username: s.username,
      client: s.client,
      connectedAt: s.connectedAt.toISOString(),
      bytesUp: s.bytesUp,
      bytesDown: s.bytesDown,
      filesUp: s.filesUp,
      filesDown: s.filesDown,
      transfer: null,
      pid: s.pid,
      node: s.nodeId,
    });
  }
  return items;
}

function webSessionView(s: WebSessionRecord): SessionView {
  return {
    id: s.id,
    remoteAddress: s.remoteAddress,
    protocol: 'https',
    username: s.username,
    client: null,
    connectedAt: s.createdAt.toISOString(),
    bytesUp: s.bytesUp,
    bytesDown: s.bytesDown,
    filesUp: s.filesUp,
    filesDown: s.filesDown,
    transfer: null,
    pid: s.pid,
    ...(s.nodeId !== null ? { node: s.nodeId } : {}),
  };
}

/** Ends a web client sign-in on every node at once (its cookie is refused from the next request on). */
async function killWebSession(deps: ApiDeps, id: string): Promise<KilledSession | undefined> {
  const s = await deps.store.webSessions.close(id);
  if (!s) return undefined;
  return {
    id,
    username: s.username,
    remoteAddress: s.remoteAddress,
    pid: s.pid,
    ...(s.nodeId !== null ? { node: s.nodeId } : {}),
  };
}

/** Ends a connection this process holds; undefined when it holds none with this id. */
export function killLocalSession(
  deps: Pick<ApiDeps, 'sessions' | 'disconnect'>,
  id: string,
): KilledSession | undefined {
  const session = deps.sessions.list().find((s) => s.id === id);
  if (!session || deps.disconnect?.(id) !== true) return undefined;
  return { id, username: session.username, remoteAddress: session.remoteAddress, pid: workerTaskId };
}

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

/** The pids of this node's serving processes: every worker that answers the primary in time, else this one. */
async function servingProcesses(deps: ApiDeps): Promise<number[]> {
  if (!deps.gather) return [process.pid];
  const pids = (await deps.gather('pid')).filter((p): p is number => typeof p === 'number');
  return pids.sort((a, b) => a - b);
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
          summary:
            "Open SSH and FTPS connections: this node's (every worker's) and, in cluster mode, the logged-in SSH sessions of every other node; and every web client (/files) sign-in, protocol https (oldest first, paginated)",
          querystring: pageQuerySchema.extend({
            username: z
              .string()
              .max(200)
              .optional()
              .describe("only this user's sessions")
              .meta({ example: 'alice' }),
            protocol: z
              .string()
              .max(16)
              .optional()
              .describe('only sessions of this protocol (sftp, scp, ssh, ftps, https, …)')
              .meta({ example: 'sftp' }),
            address: z
              .string()
              .max(100)
              .optional()
              .describe('only sessions from an address containing this text')
              .meta({ example: '192.0.2.' }),
            sort: sortParam(SESSION_SORTS, 'since'),
          }),
          response: { 200: pageOf(sessionSchema), ...problemResponses },
        },
      },
      async (request) => {
        const { username, protocol, address } = request.query;
        const found = (await allSessions(deps)).filter(
          (s) =>
            (username === undefined || s.username === username) &&
            (protocol === undefined || s.protocol === protocol) &&
            contains(s.remoteAddress, address),
        );
        // Oldest first unless sorted otherwise; the id breaks ties (connections of the same millisecond).
        const order = parseSort(request.query.sort, SESSION_SORTS, 'since');
        return sortedPage(found, SESSION_SORT_KEYS, (s) => s.id, order, request.query);
      },
    );

    app.delete(
      '/api/sessions/:id',
      {
        config: { permission: 'sessions:kill' },
        schema: {
          tags: ['sessions'],
          summary:
            'End an open SSH or FTPS connection, in whichever worker process or node holds it, or a web client sign-in (its cookie is refused on every node from then on; audited)',
          params: z.object({ id: z.string().min(1).max(64) }),
          response: {
            200: z
              .object({
                id: z.string(),
                username: z.string().nullable(),
                remoteAddress: z.string(),
                pid: z.number().int(),
                node: z.string().optional(),
              })
              .meta({
                example: {
                  id: '3f9a1c2b7d4e',
                  username: 'alice',
                  remoteAddress: '192.0.2.10',
                  pid: 4242,
                  node: 'web1:2222',
                },
              }),
            ...problemResponses,
          },
        },
      },
      async (request) =>
        deps.admin.sessions.kill(actorOf(request), request.params.id, async (id) => {
          if (isWebSessionId(id)) return killWebSession(deps, id);
          // Under --workers N every worker is asked (through the primary); the one holding it answers.
          const local = deps.gather
            ? ((await deps.gather('kill', id))[0] as KilledSession | undefined)
            : killLocalSession(deps, id);
          if (local) return deps.cluster ? { ...local, node: deps.cluster.nodeId } : local;
          // Another node's: asked through the store, and waited for.
          return deps.cluster?.sessions.kill(id);
        }),
    );

    app.get(
      '/api/status',
      {
        config: { permission: 'status:read' },
        schema: {
          tags: ['status'],
          summary:
            "Version, uptime, health, listeners, store and disk of the answering process, and the pids of its node's workers",
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
          workers: await servingProcesses(deps),
        };
      },
    );
  };
