// Cluster mode's node registry: each serving process registers and heartbeats; `cluster status` reads the nodes.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  heartbeatIsLive,
  MISSED_HEARTBEATS,
  type NodeListener,
  type NodeProcess,
  type NodeRepository,
} from '../store/types.js';
import { workerTaskId } from '../util/worker-task-id.js';

export { MISSED_HEARTBEATS };

/** The package version (admin/ and dist/admin/ both sit two levels below the package). */
export function ferryVersion(): string {
  try {
    return String(
      JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version,
    );
  } catch {
    return 'unknown';
  }
}

/** The default node id: the host name and SFTP port, so two nodes on one machine stay distinct. */
export function defaultNodeId(port: number): string {
  // A host name may hold characters a node id does not (node.id's pattern); they become dashes.
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '') || 'ferry';
  return `${host.slice(0, 56)}:${port}`;
}

/**
 * True for a process of this host that no longer exists: a node restarted at once after a crash (systemd's
 * Restart=) must not wait for its own stale heartbeat. Another host's processes are judged by heartbeat only.
 */
function processGone(other: NodeProcess): boolean {
  if (other.host !== hostname()) return false;
  try {
    process.kill(other.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface NodeHeartbeatOptions {
  readonly nodes: NodeRepository;
  readonly nodeId: string;
  /** Shared by the workers of one `serve`, so they count as one node. */
  readonly runId: string;
  readonly heartbeatMs: number;
  readonly listeners: readonly NodeListener[];
  /** Open SSH connections of this process now. */
  readonly sessions: () => number;
  readonly log: Logger;
}

/**
 * Registers this process and heartbeats until the returned stop is called (which removes its row). Refuses with
 * one line when another live `serve` holds the node id; a stale holder (silent for MISSED_HEARTBEATS) is replaced.
 */
export async function startNodeHeartbeat(o: NodeHeartbeatOptions): Promise<() => Promise<void>> {
  const now = new Date();
  const staleMs = o.heartbeatMs * MISSED_HEARTBEATS;
  const refused = await o.nodes.register(
    {
      nodeId: o.nodeId,
      runId: o.runId,
      pid: workerTaskId,
      version: ferryVersion(),
      host: hostname(),
      startedAt: now,
      heartbeatAt: now,
      heartbeatMs: o.heartbeatMs,
      listeners: o.listeners,
      sessions: o.sessions(),
    },
    staleMs,
    now,
    processGone,
  );
  if (refused) {
    const c = refused.conflict;
    throw new ConfigError(
      `node id '${o.nodeId}' is in use by a live node (pid ${c.pid} on ${c.host}, last heartbeat ${c.heartbeatAt.toISOString()}); give this one another --node-id, or stop the other`,
    );
  }
  let beating: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (beating) return;
    beating = o.nodes
      .heartbeat(o.nodeId, o.runId, workerTaskId, o.sessions(), new Date())
      .then((kept) => {
        if (!kept)
          o.log.error(
            { nodeId: o.nodeId },
            'node registry row gone (another node took the id after a stall)',
          );
      })
      .catch((err: unknown) => o.log.warn({ err }, 'node heartbeat failed'))
      .finally(() => {
        beating = undefined;
      });
  }, o.heartbeatMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await beating;
    await o.nodes.remove(o.nodeId, o.runId, workerTaskId);
  };
}

/** One node as `ferry cluster status` and GET /api/cluster show it: its live processes summed. */
export interface NodeStatus {
  readonly id: string;
  readonly state: 'up' | 'down';
  readonly version: string;
  readonly host: string;
  readonly startedAt: Date;
  readonly uptimeSeconds: number;
  readonly lastHeartbeat: Date;
  readonly sessions: number;
  /** Serving processes heartbeating now (workers of `serve --workers N`). */
  readonly processes: number;
  readonly listeners: readonly NodeListener[];
}

const isLive = (p: NodeProcess, now: Date) => heartbeatIsLive(p.heartbeatAt, p.heartbeatMs, now);

/**
 * The nodes, by id: up while one of its processes heartbeats (each judged by its own interval); a down node
 * shows what its processes last said, with no sessions (they ended with it).
 */
export function nodeStatuses(processes: readonly NodeProcess[], now: Date): NodeStatus[] {
  const byId = new Map<string, NodeProcess[]>();
  for (const p of processes) byId.set(p.nodeId, [...(byId.get(p.nodeId) ?? []), p]);
  return [...byId.entries()].map(([id, all]) => {
    const live = all.filter((p) => isLive(p, now));
    const shown = live.length > 0 ? live : all;
    const first = shown.reduce((a, b) => (a.startedAt <= b.startedAt ? a : b));
    const last = all.reduce((a, b) => (a.heartbeatAt >= b.heartbeatAt ? a : b));
    return {
      id,
      state: live.length > 0 ? 'up' : 'down',
      version: first.version,
      host: first.host,
      startedAt: first.startedAt,
      uptimeSeconds:
        live.length > 0 ? Math.max(0, Math.floor((now.getTime() - first.startedAt.getTime()) / 1000)) : 0,
      lastHeartbeat: last.heartbeatAt,
      sessions: live.reduce((n, p) => n + p.sessions, 0),
      processes: live.length,
      listeners: first.listeners,
    };
  });
}

/** A node status as JSON (the CLI's --json and the API share it). */
export function nodeStatusJson(s: NodeStatus) {
  return {
    id: s.id,
    state: s.state,
    version: s.version,
    host: s.host,
    startedAt: s.startedAt.toISOString(),
    uptimeSeconds: s.uptimeSeconds,
    lastHeartbeat: s.lastHeartbeat.toISOString(),
    sessions: s.sessions,
    processes: s.processes,
    listeners: s.listeners.map((l) => ({ name: l.name, address: l.address, port: l.port })),
  };
}
