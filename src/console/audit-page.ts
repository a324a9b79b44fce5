// /console/audit: the trail filtered as the CLI filters it, each record's detail, verify, and the NDJSON export.
import type { FastifyInstance } from 'fastify';
import { html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { consolePage } from './layout.js';
import { queryOf, whoIs } from './request.js';
import { type Column, sortableHead, sortOf } from './sort-header.js';

export interface AuditView {
  readonly seq: number;
  readonly at: string;
  readonly action: string;
  readonly actor: string | null;
  readonly user: string | null;
  readonly address: string | null;
  readonly protocol: string | null;
  readonly path: string | null;
  readonly target: string | null;
  readonly result: string;
  readonly reason: string | null;
  readonly detail: unknown;
  readonly hash: string;
  /** The cluster node that wrote the record (null for CLI processes). */
  readonly node?: string | null;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };
const FILTERS = ['user', 'action', 'since', 'until', 'path'] as const;
const PAGE_SIZE = 200;
/** The trail sorts by its order (seq, which is time order): the time column flips it. */
const AUDIT_COLUMNS: readonly Column[] = [
  { label: '#' },
  { label: 'Time (UTC)', sort: 'seq' },
  { label: 'Action' },
  { label: 'User / actor' },
  { label: 'From' },
  { label: 'Path / target' },
  { label: 'Result' },
];

export function auditPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/audit', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const query = queryOf(request);
    // Newest first unless the time column was clicked for oldest first; each way pages on from the last record.
    const sort = sortOf(query, '-seq');
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const f of FILTERS) if (query[f]) params.set(f, query[f]!);
    const filters = Object.fromEntries(params);
    delete filters.limit;
    const from = sort === '-seq' ? 'beforeSeq' : 'afterSeq';
    const answer = await api.get<{
      items: AuditView[];
      nextAfterSeq: number | null;
      nextBeforeSeq?: number | null;
    }>(
      request,
      `/api/audit?${params}&sort=${encodeURIComponent(sort)}${query[from] ? `&${from}=${encodeURIComponent(query[from])}` : ''}`,
    );
    const items = answer.status === 200 ? answer.body.items : [];
    const nextSeq =
      answer.status !== 200 ? null : sort === '-seq' ? answer.body.nextBeforeSeq : answer.body.nextAfterSeq;
    const nextPage = new URLSearchParams({
      ...filters,
      sort,
      ...(nextSeq ? { [from]: String(nextSeq) } : {}),
    });
    params.delete('limit');
    const field = (name: (typeof FILTERS)[number], label: string, hint: string) =>
      html`<label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" value="${query[name] ?? ''}" placeholder="${hint}">`;
    const body = html`<h1>Audit trail</h1>
<form class="filters" method="get" action="/console/audit">
  ${field('user', 'User', 'alice')}${field('action', 'Actions', 'upload,download')}
  ${field('since', 'Since', '2026-11-30T00:00')}${field('until', 'Until', '')}${field('path', 'Path', '/in/**')}
  <input type="hidden" name="sort" value="${sort}">
  <button type="submit">Filter</button></form>
<p class="tools"><a class="button" href="/console/audit/verify">Verify the chain</a>
  <a class="button" href="/api/audit/export?${params.toString()}" download="audit.ndjson">Export (NDJSON)</a></p>
${answer.status !== 200 ? html`<p class="error" role="alert">${answer.problem ?? 'cannot read the audit trail'}</p>` : ''}
${
  items.length === 0 && answer.status === 200
    ? html`<p class="empty">No record matches.</p>`
    : html`<table class="list audit">${sortableHead('/console/audit', AUDIT_COLUMNS, sort, filters)}
<tbody>${items.map(
        (
          r,
        ) => html`<tr class="${r.result === 'ok' ? '' : 'bad'}"><td>${r.seq}</td><td>${r.at.slice(0, 19).replace('T', ' ')}</td>
<td>${r.action}</td><td>${r.actor ?? r.user ?? ''}</td><td>${r.address ?? ''} ${r.protocol ?? ''}</td>
<td>${r.path ?? r.target ?? ''}</td>
<td>${r.result}${r.reason ? ` (${r.reason})` : ''}<details><summary>detail</summary><pre>${JSON.stringify(r.detail, null, 2)}</pre>${r.node ? html`<p class="node">node ${r.node}</p>` : ''}<p class="hash">hash ${r.hash}</p></details></td></tr>`,
      )}</tbody></table>
${nextSeq ? html`<nav class="pager"><a href="/console/audit?${nextPage.toString()}">${sort === '-seq' ? 'Older records' : 'Newer records'}</a></nav>` : ''}`
}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(consolePage({ title: 'Audit', section: 'audit', who }, body));
  });

  app.get('/console/audit/verify', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const answer = await api.get<{ ok: boolean; records: number; problem?: unknown }>(
      request,
      '/api/audit/verify',
    );
    const report = answer.body;
    const body =
      answer.status !== 200
        ? html`<p class="error" role="alert">${answer.problem ?? 'cannot verify'}</p>`
        : report.ok
          ? html`<p class="ok verify" role="status">The chain verifies: ${report.records} records, none altered, removed or reordered.</p>`
          : html`<p class="error verify" role="alert">The chain does NOT verify.</p><pre>${JSON.stringify(report, null, 2)}</pre>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'Audit verification', section: 'audit', who },
          html`<h1>Audit chain verification</h1>${body}<p><a href="/console/audit">Back to the audit trail</a></p>`,
        ),
      );
  });
}
