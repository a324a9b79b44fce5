// /console/: status, live sessions, failed logins, bans, dead deliveries and transfers per hour; the live part
// reloads when the event stream (/api/events) reports a session or a transfer, and every 30 s besides.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Html, html, humanSize } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import type { AuditView } from './audit-page.js';
import { consolePage } from './layout.js';
import { whoIs } from './request.js';

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };
const HOUR = 3_600_000;

interface StatusView {
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly health: { status: string; reason?: string };
  readonly listeners: readonly { name: string; address: string; port: number }[];
  readonly store: { driver: string; reachable: boolean };
  readonly disk: { path: string; freeBytes: number; freePercent: number } | null;
}

/** Uploads and downloads per hour over the last 24 hours, as an SVG bar chart (no script, no inline style). */
export function transferChart(records: readonly Pick<AuditView, 'at' | 'action'>[], now: number): Html {
  const start = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const up = new Array<number>(24).fill(0);
  const down = new Array<number>(24).fill(0);
  for (const r of records) {
    const slot = Math.floor((Date.parse(r.at) - start) / HOUR);
    if (slot < 0 || slot > 23) continue;
    if (r.action === 'upload') up[slot]!++;
    else if (r.action === 'download') down[slot]!++;
  }
  const max = Math.max(1, ...up.map((u, i) => u + down[i]!));
  const bars = up.map((u, i) => {
    const hUp = Math.round((u / max) * 100);
    const hDown = Math.round((down[i]! / max) * 100);
    const hour = new Date(start + i * HOUR).toISOString().slice(11, 13);
    return html`<g><title>${hour}:00 UTC: ${u} up, ${down[i]} down</title>
<rect class="up" x="${i * 20 + 2}" y="${110 - hUp}" width="16" height="${hUp}"></rect>
<rect class="down" x="${i * 20 + 2}" y="${110 - hUp - hDown}" width="16" height="${hDown}"></rect>
${i % 3 === 0 ? html`<text x="${i * 20 + 2}" y="124">${hour}</text>` : ''}</g>`;
  });
  const total = up.reduce((a, b) => a + b, 0) + down.reduce((a, b) => a + b, 0);
  return html`<figure class="chart"><svg viewBox="0 0 480 130" role="img" aria-label="Transfers per hour, last 24 hours: ${total} in all">${bars}</svg>
<figcaption><span class="key up">uploads</span> <span class="key down">downloads</span> per hour, last 24 h (UTC): ${total} files</figcaption></figure>`;
}

async function liveFragment(api: ConsoleApi, request: FastifyRequest): Promise<Html> {
  const now = Date.now();
  const since = new Date(now - 24 * HOUR).toISOString();
  const [status, sessions, bans, dead, transfers, logins] = await Promise.all([
    api.get<StatusView>(request, '/api/status'),
    api.get<{ items: unknown[] }>(request, '/api/sessions?limit=1000'),
    api.get<{ items: { banned: boolean }[] }>(request, '/api/defender?banned=true&limit=1000'),
    api.get<{ items: unknown[] }>(request, '/api/deliveries?status=dead&limit=1000'),
    api.get<{ items: AuditView[] }>(request, `/api/audit?action=upload,download&since=${since}&limit=10000`),
    api.get<{ items: AuditView[] }>(request, `/api/audit?action=auth&since=${since}&limit=10000`),
  ]);
  const count = (a: { status: number; body: { items: unknown[] } }) =>
    a.status === 200 ? String(a.body.items.length) : '—';
  const failedLogins =
    logins.status === 200 ? String(logins.body.items.filter((r) => r.result !== 'ok').length) : '—';
  const s = status.status === 200 ? status.body : undefined;
  const tile = (label: string, value: string, href: string, alarm = false) =>
    html`<a class="tile${alarm ? ' alarm' : ''}" href="${href}"><span class="value">${value}</span><span class="label">${label}</span></a>`;
  return html`<div class="tiles">
${tile('live sessions', count(sessions), '/console/sessions')}
${tile('failed logins, 24 h', failedLogins, '/console/audit?action=auth', failedLogins !== '0' && failedLogins !== '—')}
${tile('banned addresses', count(bans), '/console/defender', count(bans) !== '0' && count(bans) !== '—')}
${tile('dead deliveries', count(dead), '/console/audit', count(dead) !== '0' && count(dead) !== '—')}
${tile('free disk', s?.disk ? `${humanSize(s.disk.freeBytes)} (${s.disk.freePercent}%)` : '—', '/console/')}
</div>
${transfers.status === 200 ? transferChart(transfers.body.items, now) : html`<p class="error">${transfers.problem ?? ''}</p>`}
${
  s
    ? html`<dl class="status"><dt>Version</dt><dd>${s.version}</dd><dt>Health</dt><dd>${s.health.status}${s.health.reason ? ` (${s.health.reason})` : ''}</dd>
<dt>Up for</dt><dd>${Math.floor(s.uptimeSeconds / 3600)} h ${Math.floor((s.uptimeSeconds % 3600) / 60)} min</dd>
<dt>Store</dt><dd>${s.store.driver}, ${s.store.reachable ? 'reachable' : 'NOT reachable'}</dd>
<dt>Listeners</dt><dd>${s.listeners.map((l) => `${l.name} ${l.address}:${l.port}`).join(', ')}</dd></dl>`
    : html`<p class="error">${status.problem ?? ''}</p>`
}`;
}

export function dashboardPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const body = html`<h1>Dashboard</h1>
<section>
<div id="live" data-events="session transfer" hx-get="/console/live" hx-trigger="refresh, every 30s">${await liveFragment(api, request)}</div>
</section>
<p><a class="button" href="/console/audit/verify">Verify the audit chain</a></p>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(consolePage({ title: 'Dashboard', section: 'dashboard', who }, body));
  });
  app.get('/console', { config: CONFIG, schema: HIDDEN }, (_request, reply) =>
    reply.redirect('/console/', 301),
  );

  app.get('/console/live', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    await whoIs(api, request);
    return reply.type('text/html; charset=utf-8').send((await liveFragment(api, request)).text);
  });
}
