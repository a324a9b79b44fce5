// /console/deliveries: what rule actions delivered, newest first, filtered by status and rule and paged by the
// API's cursor, each with its attempts; a finished or dead one can be queued again (redeliver).
import type { FastifyInstance } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { csrfField } from './layout.js';
import {
  CONFIG,
  HIDDEN,
  type Operator,
  operatorOf,
  pager,
  problemOf,
  select,
  sendPage,
  utc,
} from './ops-kit.js';
import { backTo, formOf, outcomeOf, queryOf, seg } from './request.js';
import { type Column, sortableHead, sortOf } from './sort-header.js';

interface DeliveryView {
  readonly id: string;
  readonly rule: string;
  readonly action: number;
  readonly event: string;
  readonly status: string;
  readonly attempts: number;
  readonly created: string;
  readonly nextAttempt: string | null;
  readonly finished: string | null;
  readonly lastError: string | null;
  readonly fields: Record<string, string>;
  readonly history: readonly {
    attempt: number;
    at: string;
    ok: boolean;
    latencyMs: number;
    responseCode: number | null;
    error: string | null;
    output: string | null;
  }[];
}

const PAGE_SIZE = 50;
const DELIVERY_COLUMNS: readonly Column[] = [
  { label: 'Created (UTC)', sort: 'created' },
  { label: 'Rule, action' },
  { label: 'Event' },
  { label: 'Status' },
  { label: 'Attempts' },
  { label: 'Last error' },
  { label: 'Actions' },
];
const STATUSES = ['pending', 'running', 'succeeded', 'dead'] as const;
const BADGE: Record<string, string> = { succeeded: 'on', dead: 'off', pending: 'wait', running: 'wait' };

/** Back to the list the button was pressed on (same filters), never anywhere else. */
function listUrl(status: string | undefined, rule: string | undefined): string {
  const params = new URLSearchParams();
  if (status && (STATUSES as readonly string[]).includes(status)) params.set('status', status);
  if (rule) params.set('rule', rule);
  const query = params.toString();
  return query ? `/console/deliveries?${query}` : '/console/deliveries';
}

function deliveryRow(
  op: Operator,
  d: DeliveryView,
  status: string | undefined,
  rule: string | undefined,
): Html {
  const canRedeliver = op.may('rules:redeliver') && (d.status === 'dead' || d.status === 'succeeded');
  return html`<tr class="${d.status === 'dead' ? 'bad' : ''}">
<td>${utc(d.created)}</td><td><a href="/console/rules/${seg(d.rule)}">${d.rule}</a> #${d.action}</td><td>${d.event}</td>
<td><span class="badge ${BADGE[d.status] ?? ''}">${d.status}</span></td><td>${d.attempts}</td>
<td class="wrap">${d.lastError ?? ''}${d.nextAttempt ? html`<br><span class="hint">next try ${utc(d.nextAttempt)}</span>` : ''}
<details><summary>attempts and fields</summary>
${
  d.history.length === 0
    ? html`<p class="empty">No attempt yet.</p>`
    : html`<ol class="attempts">${d.history.map(
        (a) =>
          html`<li>${utc(a.at)}: ${a.ok ? 'ok' : 'failed'}${a.responseCode !== null ? ` (HTTP ${a.responseCode})` : ''}, ${Math.round(a.latencyMs)} ms${a.error ? ` — ${a.error}` : ''}${a.output ? html`<pre>${a.output}</pre>` : ''}</li>`,
      )}</ol>`
}
<pre>${JSON.stringify(d.fields, null, 2)}</pre><p class="hint">id ${d.id}</p></details></td>
<td class="actions">${
    canRedeliver
      ? html`<form method="post" action="/console/deliveries/${seg(d.id)}/redeliver" class="confirm" data-confirm="Run action ${d.action} of ${d.rule} again for this ${d.event} event?">${csrfField(op.who)}
  <input type="hidden" name="status" value="${status ?? ''}"><input type="hidden" name="rule" value="${rule ?? ''}">
  <button type="submit">Redeliver</button></form>`
      : ''
  }</td></tr>`;
}

export function deliveriesPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/deliveries', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const query = queryOf(request);
    const status = query.status || undefined;
    const rule = query.rule || undefined;
    const sort = sortOf(query, '-created');
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), sort });
    if (status) params.set('status', status);
    if (rule) params.set('rule', rule);
    if (query.cursor) params.set('cursor', query.cursor);
    const answer = await api.get<{ items: DeliveryView[]; nextCursor: string | null }>(
      request,
      `/api/deliveries?${params}`,
    );
    const { items = [], nextCursor = null } = answer.status === 200 ? answer.body : {};
    const body = html`<h1>Deliveries</h1>
<p class="lead">Each action a rule ran for an event, with every attempt. Failed ones are retried with backoff until they succeed or are dead.</p>
<form class="filters" method="get" action="/console/deliveries" role="search">
  ${select('status', 'Status', [['', 'any'], ...STATUSES.map((s) => [s, s] as const)], status ?? '')}
  <label for="rule">Rule</label><input id="rule" name="rule" value="${rule ?? ''}">
  <input type="hidden" name="sort" value="${sort}">
  <button type="submit">Filter</button></form>
${
  answer.status !== 200
    ? problemOf(answer, 'cannot list deliveries')
    : items.length === 0
      ? html`<p class="empty">${status || rule ? 'No delivery matches.' : 'No deliveries yet: rules have not acted on any event.'}</p>`
      : html`<table class="list deliveries">${sortableHead('/console/deliveries', DELIVERY_COLUMNS, sort, { status, rule })}
<tbody>${items.map((d) => deliveryRow(op, d, status, rule))}</tbody></table>
${pager('/console/deliveries', { status, rule, sort }, query.cursor, nextCursor)}`
}`;
    return sendPage(
      reply,
      { title: 'Deliveries', section: 'deliveries', who: op.who, ...outcomeOf(op.who, query) },
      body,
    );
  });

  app.post(
    '/console/deliveries/:id/redeliver',
    { config: CONFIG, schema: HIDDEN },
    async (request, reply) => {
      const op = await operatorOf(api, request);
      const { id } = request.params as { id: string };
      const form = formOf(request);
      const answer = await api.send<DeliveryView>(
        request,
        'POST',
        `/api/deliveries/${seg(id)}/redeliver`,
        undefined,
        form._csrf ?? '',
      );
      return backTo(
        reply,
        op.who,
        listUrl(form.status, form.rule),
        answer.status === 200
          ? { notice: `Queued again: action ${answer.body.action} of ${answer.body.rule}, due now.` }
          : { error: answer.problem ?? 'failed' },
      );
    },
  );
}
