// /console/status: version, uptime, health and readiness checks, listeners, store, disk, and the cluster's nodes,
// from /api/status, /readyz and /api/cluster; the audit chain's check is one link away (/console/audit/verify).
import type { FastifyInstance } from 'fastify';
import { html, humanSize } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { listOrProblem } from './keys-pgp-x509.js';
import { consolePage } from './layout.js';
import { whoIs } from './request.js';

interface Listener {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

interface StatusView {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly health: { status: string; reason?: string };
  readonly listeners: readonly Listener[];
  readonly store: { driver: string; reachable: boolean };
  readonly disk: { path: string; freeBytes: number; freePercent: number } | null;
  readonly sessions: number;
}

interface ReadyView {
  readonly status: string;
  readonly checks: Record<string, boolean>;
  readonly reason?: string;
}

interface NodeView {
  readonly id: string;
  readonly state: 'up' | 'down';
  readonly version: string;
  readonly host: string;
  readonly uptimeSeconds: number;
  readonly lastHeartbeat: string;
  readonly sessions: number;
  readonly processes: number;
  readonly listeners: readonly Listener[];
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };

/** 93784 s → "1 d 2 h 3 min". */
export function uptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return [d ? `${d} d` : '', d || h ? `${h} h` : '', `${m} min`].filter(Boolean).join(' ');
}

const listenerList = (ls: readonly Listener[]) =>
  ls.map((l) => `${l.name} ${l.address}:${l.port}`).join(', ');
const badge = (ok: boolean, yes: string, no: string) =>
  html`<span class="badge ${ok ? 'on' : 'off'}">${ok ? yes : no}</span>`;

export function statusPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/status', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const [status, ready, cluster] = await Promise.all([
      api.get<StatusView>(request, '/api/status'),
      api.get<ReadyView>(request, '/readyz'),
      api.get(request, '/api/cluster'),
    ]);
    const s = status.status === 200 ? status.body : undefined;
    const r = ready.body && typeof ready.body === 'object' && 'checks' in ready.body ? ready.body : undefined;
    const body = html`<h1>Status</h1>
${
  s
    ? html`<dl class="status">
<dt>Version</dt><dd>${s.version}</dd>
<dt>Up since (UTC)</dt><dd>${s.startedAt.slice(0, 19).replace('T', ' ')} (${uptime(s.uptimeSeconds)}), process ${s.pid}</dd>
<dt>Health</dt><dd>${badge(s.health.status === 'healthy', s.health.status, s.health.status)}${s.health.reason ? ` ${s.health.reason}` : ''}</dd>
<dt>Listeners</dt><dd>${listenerList(s.listeners) || 'none'}</dd>
<dt>Store</dt><dd>${s.store.driver} ${badge(s.store.reachable, 'reachable', 'unreachable')}</dd>
<dt>Disk</dt><dd>${s.disk ? `${humanSize(s.disk.freeBytes)} free (${s.disk.freePercent.toFixed(1)} %) at ${s.disk.path}` : 'unknown'}</dd>
<dt>Live sessions</dt><dd>${s.sessions}</dd></dl>`
    : html`<p class="error" role="alert">${status.problem ?? 'no status'}</p>`
}
<h2>Readiness</h2>
${
  r
    ? html`<p>${badge(r.status === 'ready', 'ready', 'not ready')}${r.reason ? ` ${r.reason}` : ''}</p>
<table class="list"><thead><tr><th>Check</th><th>State</th></tr></thead><tbody>${Object.entries(r.checks).map(
        ([name, ok]) =>
          html`<tr><td>${name === 'audit' ? 'audit trail writable' : name}</td><td>${badge(ok, 'ok', 'failing')}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="error">${ready.problem ?? 'no readiness answer'}</p>`
}
<p><a class="button" href="/console/audit/verify">Verify the audit chain</a></p>
<h2>Nodes</h2>
${listOrProblem<NodeView>(
  cluster,
  'No cluster nodes are registered (a single server).',
  (
    nodes,
  ) => html`<table class="list"><thead><tr><th>Node</th><th>State</th><th>Version</th><th>Host</th><th>Uptime</th><th>Processes</th><th>Sessions</th><th>Listeners</th><th>Last heartbeat (UTC)</th></tr></thead>
<tbody>${nodes.map(
    (
      n,
    ) => html`<tr><td class="name">${n.id}</td><td>${badge(n.state === 'up', 'up', 'down')}</td><td>${n.version}</td><td>${n.host}</td>
<td>${uptime(n.uptimeSeconds)}</td><td>${n.processes}</td><td>${n.sessions}</td><td>${listenerList(n.listeners)}</td><td>${n.lastHeartbeat.slice(0, 19).replace('T', ' ')}</td></tr>`,
  )}</tbody></table>`,
)}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(consolePage({ title: 'Status', section: 'status', who }, body));
  });
}
