// /console/jobs: transfer jobs: list (pages by the API's cursor), define, run now, remove, through /api/jobs; a
// job's own page (change, history, one run's files) is job-page.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { csrfField } from './layout.js';
import {
  CONFIG,
  HIDDEN,
  input,
  numberField,
  type Operator,
  operatorOf,
  pager,
  problemOf,
  select,
  sendPage,
} from './ops-kit.js';
import { backTo, type Form, formOf, outcomeOf, queryOf, seg } from './request.js';
import { type Column, sortableHead, sortOf } from './sort-header.js';

export interface JobView {
  readonly name: string;
  readonly partner: string;
  readonly direction: string;
  readonly remoteDir: string;
  readonly localDir: string;
  readonly pattern: string;
  readonly schedule: string | null;
  readonly after: string;
  readonly retries: number;
  readonly backoff: string;
  readonly enabled: boolean;
}

export interface RunView {
  readonly id: number;
  readonly job: string;
  readonly trigger: string;
  readonly status: string;
  readonly attempts: number;
  readonly started: string;
  readonly finished: string | null;
  readonly durationMs: number;
  readonly bytes: number;
  readonly files: readonly unknown[];
  readonly error: string | null;
}

const PAGE_SIZE = 50;
/** The transfer column reads "pull from PARTNER …": it sorts by partner. */
const JOB_COLUMNS: readonly Column[] = [
  { label: 'Name', sort: 'name' },
  { label: 'Transfer', sort: 'partner' },
  { label: 'Schedule', sort: 'schedule' },
  { label: 'Schedule on' },
  { label: 'Actions' },
];

/** What a job moves, in one line: "push /srv/out → acme:/in (*.csv)". */
export function route(j: JobView): string {
  const [from, to] =
    j.direction === 'push'
      ? [j.localDir, `${j.partner}:${j.remoteDir}`]
      : [`${j.partner}:${j.remoteDir}`, j.localDir];
  return `${j.direction} ${from} → ${to}${j.pattern && j.pattern !== '*' ? ` (${j.pattern})` : ''}`;
}

/** "Run 7 ok: 2 files, 1.2 KiB" or the run's error, after a run now. */
export function runOutcome(name: string, answer: { status: number; body: unknown; problem?: string }) {
  if (answer.status !== 200) return { error: answer.problem ?? 'failed' };
  const run = answer.body as RunView;
  const files = `${run.files.length} file${run.files.length === 1 ? '' : 's'}, ${run.bytes} bytes`;
  return run.status === 'ok'
    ? { notice: `Run ${run.id} of ${name} succeeded: ${files}.` }
    : { error: `Run ${run.id} of ${name} ${run.status}: ${run.error ?? 'no reason given'}` };
}

function createForm(op: Operator, partners: readonly string[], draft: Form | undefined): Html {
  if (!op.may('jobs:write')) return html``;
  const d = draft ?? {};
  return html`<details class="create"${draft ? html` open` : ''}><summary>Define a job</summary>
<form method="post" action="/console/jobs">${csrfField(op.who)}
  ${input('name', 'Name', { value: d.name, required: true, extra: html` maxlength="200"` })}
  ${
    partners.length > 0
      ? select('partner', 'Partner', partners, d.partner)
      : input('partner', 'Partner', {
          value: d.partner,
          required: true,
          hint: 'add one on the Partners page first',
        })
  }
  ${select(
    'direction',
    'Direction',
    [
      ['push', 'push: send local files to the partner'],
      ['pull', 'pull: fetch files from the partner'],
    ],
    d.direction ?? 'push',
  )}
  ${input('remoteDir', 'Remote folder', { value: d.remoteDir, required: true, placeholder: '/in' })}
  ${input('localDir', 'Local folder', { value: d.localDir, required: true, hint: 'a folder on this server', placeholder: '/srv/outbound/acme' })}
  ${input('pattern', 'Files', { value: d.pattern, hint: 'comma-separated globs; empty: every file', placeholder: '*.csv' })}
  ${input('schedule', 'Schedule', { value: d.schedule, hint: 'cron expression; empty: run by hand only', placeholder: '*/15 * * * *' })}
  ${input('after', 'After a file is sent', { value: d.after, hint: 'keep, delete or move:DIR; empty: keep' })}
  ${input('retries', 'Retries', { value: d.retries, hint: 'empty: the default', extra: html` inputmode="numeric"` })}
  ${input('backoff', 'Seconds between retries', { value: d.backoff, hint: 'empty: the default', extra: html` inputmode="numeric"` })}
  <button type="submit">Define job</button>
</form></details>`;
}

function jobRow(op: Operator, j: JobView): Html {
  return html`<tr>
<td class="name"><a href="/console/jobs/${seg(j.name)}">${j.name}</a></td>
<td>${route(j)}</td>
<td>${j.schedule ?? html`<span class="hint">by hand</span>`}</td>
<td>${j.enabled ? html`<span class="badge on">on</span>` : html`<span class="badge off">off</span>`}</td>
<td class="actions"><a class="button" href="/console/jobs/${seg(j.name)}">History</a>
${
  op.may('jobs:run')
    ? html`<form method="post" action="/console/jobs/${seg(j.name)}/run">${csrfField(op.who)}<button type="submit">Run now</button></form>`
    : ''
}
${
  op.may('jobs:write')
    ? html`<form method="post" action="/console/jobs/${seg(j.name)}/remove" class="confirm" data-confirm="Remove job ${j.name} with its history?">${csrfField(op.who)}
  <button type="submit" class="danger">Delete</button></form>`
    : ''
}</td></tr>`;
}

function createBody(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: form.name ?? '',
    partner: form.partner ?? '',
    direction: form.direction ?? '',
    remoteDir: form.remoteDir ?? '',
    localDir: form.localDir ?? '',
  };
  if (form.pattern) body.pattern = form.pattern;
  if (form.schedule) body.schedule = form.schedule;
  if (form.after) body.after = form.after;
  const retries = numberField(form.retries);
  if (retries !== undefined) body.retries = retries;
  const backoff = numberField(form.backoff);
  if (backoff !== undefined) body.backoffMs = typeof backoff === 'number' ? backoff * 1000 : backoff;
  return body;
}

export function jobsPage(app: FastifyInstance, api: ConsoleApi): void {
  async function listPage(
    request: FastifyRequest,
    op: Operator,
    draft?: Form,
    error?: string,
  ): Promise<Html> {
    const query = queryOf(request);
    const sort = sortOf(query, 'name');
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), sort });
    if (query.cursor) params.set('cursor', query.cursor);
    const [answer, partners] = await Promise.all([
      api.get<{ items: JobView[]; nextCursor: string | null }>(request, `/api/jobs?${params}`),
      op.may('jobs:write')
        ? api.get<{ items: { name: string }[] }>(request, '/api/partners?limit=1000')
        : undefined,
    ]);
    const { items = [], nextCursor = null } = answer.status === 200 ? answer.body : {};
    const partnerNames = partners?.status === 200 ? partners.body.items.map((p) => p.name) : [];
    return html`<h1>Transfer jobs</h1>
<p class="lead">Jobs push local files to a partner or pull the partner's files here, by hand or on a schedule.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
${answer.status === 200 ? createForm(op, partnerNames, draft) : ''}
${
  answer.status !== 200
    ? problemOf(answer, 'cannot list jobs')
    : items.length === 0
      ? html`<p class="empty">No jobs yet.${op.may('jobs:write') ? ' Define one above.' : ''}</p>`
      : html`<table class="list">${sortableHead('/console/jobs', JOB_COLUMNS, sort, {})}
<tbody>${items.map((j) => jobRow(op, j))}</tbody></table>
${pager('/console/jobs', { sort }, query.cursor, nextCursor)}`
}`;
  }

  app.get('/console/jobs', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    return sendPage(
      reply,
      { title: 'Jobs', section: 'jobs', who: op.who, ...outcomeOf(op.who, queryOf(request)) },
      await listPage(request, op),
    );
  });

  app.post('/console/jobs', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const form = formOf(request);
    const answer = await api.send(request, 'POST', '/api/jobs', createBody(form), form._csrf ?? '');
    if (answer.status === 201)
      return backTo(reply, op.who, `/console/jobs/${seg(form.name ?? '')}`, {
        notice: `Defined job ${form.name}.`,
      });
    return sendPage(
      reply,
      { title: 'Jobs', section: 'jobs', who: op.who },
      await listPage(request, op, form, answer.problem ?? 'failed'),
      answer.status,
    );
  });

  // From the list: back to the list (the job's own page has its own run button, which returns there).
  app.post('/console/jobs/:name/run', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const form = formOf(request);
    const answer = await api.send(request, 'POST', `/api/jobs/${seg(name)}/run`, undefined, form._csrf ?? '');
    const to = form.back === 'job' ? `/console/jobs/${seg(name)}` : '/console/jobs';
    return backTo(reply, op.who, to, runOutcome(name, answer));
  });

  app.post('/console/jobs/:name/remove', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const answer = await api.send(
      request,
      'DELETE',
      `/api/jobs/${seg(name)}`,
      undefined,
      formOf(request)._csrf ?? '',
    );
    return backTo(
      reply,
      op.who,
      '/console/jobs',
      answer.status < 300 ? { notice: `Removed job ${name}.` } : { error: answer.problem ?? 'failed' },
    );
  });
}
