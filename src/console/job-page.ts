// /console/jobs/{name}: one job: its settings (schedule, retries, on or off changed through PATCH /api/jobs/{name}),
// run now, and its history (GET /api/jobs/{name}/runs, paged) down to one run's per-file results and error.
import type { FastifyInstance } from 'fastify';
import { type Html, html, humanSize } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { type JobView, type RunView, route } from './jobs-page.js';
import { csrfField } from './layout.js';
import {
  CONFIG,
  checkbox,
  HIDDEN,
  input,
  numberField,
  type Operator,
  operatorOf,
  pager,
  problemOf,
  sendPage,
  utc,
} from './ops-kit.js';
import { backTo, formOf, outcomeOf, queryOf, seg } from './request.js';

interface RunFile {
  readonly path?: string;
  readonly name?: string;
  readonly bytes?: number;
  readonly resumedFrom?: number;
  readonly sha256?: string | null;
  readonly verified?: string;
  readonly durationMs?: number;
}

const RUNS_PAGE = 20;

const statusBadge = (status: string) =>
  html`<span class="badge ${status === 'ok' ? 'on' : status === 'running' ? 'wait' : 'off'}">${status}</span>`;

function editForm(op: Operator, j: JobView): Html {
  if (!op.may('jobs:write')) return html``;
  return html`<details class="create"><summary>Change the schedule or retries</summary>
<form class="edit" method="post" action="/console/jobs/${seg(j.name)}">${csrfField(op.who)}
  ${input('schedule', 'Schedule', { value: j.schedule ?? '', hint: 'cron expression; empty: by hand only' })}
  ${input('retries', 'Retries', { value: j.retries, extra: html` inputmode="numeric"` })}
  ${input('backoff', 'Seconds between retries', { hint: `empty: unchanged (now ${j.backoff})`, extra: html` inputmode="numeric"` })}
  ${checkbox('enabled', 'Run on the schedule', j.enabled)}
  <p class="hint">Partner, folders and files are fixed once defined: remove the job and define it again to change them.</p>
  <button type="submit">Save changes</button>
</form></details>`;
}

function runRow(name: string, r: RunView): Html {
  return html`<tr class="${r.status === 'failed' ? 'bad' : ''}">
<td><a href="/console/jobs/${seg(name)}/runs/${r.id}">#${r.id}</a></td><td>${utc(r.started)}</td><td>${r.trigger}</td>
<td>${statusBadge(r.status)}</td><td>${r.files.length}</td><td>${humanSize(r.bytes)}</td>
<td>${(r.durationMs / 1000).toFixed(1)} s</td><td>${r.attempts}</td><td class="wrap">${r.error ?? ''}</td></tr>`;
}

export function jobPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/jobs/:name', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const query = queryOf(request);
    const params = new URLSearchParams({ limit: String(RUNS_PAGE) });
    if (query.cursor) params.set('cursor', query.cursor);
    const [job, runs] = await Promise.all([
      api.get<JobView>(request, `/api/jobs/${seg(name)}`),
      api.get<{ items: RunView[]; nextCursor: string | null }>(
        request,
        `/api/jobs/${seg(name)}/runs?${params}`,
      ),
    ]);
    const j = job.status === 200 ? job.body : undefined;
    const body = html`<p class="crumbs"><a href="/console/jobs">Jobs</a> › ${name}</p>
<h1>Job ${name}</h1>
${problemOf(job, 'cannot read the job')}
${
  j
    ? html`<dl class="status"><dt>Transfer</dt><dd>${route(j)}</dd>
<dt>Partner</dt><dd><a href="/console/partners/${seg(j.partner)}">${j.partner}</a></dd>
<dt>Schedule</dt><dd>${j.schedule ?? 'by hand only'}${j.schedule && !j.enabled ? ' (off)' : ''}</dd>
<dt>After sending</dt><dd>${j.after}</dd><dt>Retries</dt><dd>${j.retries}, ${j.backoff} apart</dd></dl>
<div class="tools">${
        op.may('jobs:run')
          ? html`<form method="post" action="/console/jobs/${seg(j.name)}/run">${csrfField(op.who)}<input type="hidden" name="back" value="job">
  <button type="submit" class="primary">Run now</button></form>`
          : ''
      }
${
  op.may('jobs:write')
    ? html`<form method="post" action="/console/jobs/${seg(j.name)}/remove" class="confirm" data-confirm="Remove job ${j.name} with its history?">${csrfField(op.who)}
  <button type="submit" class="danger">Delete job</button></form>`
    : ''
}</div>
${editForm(op, j)}
<h2>History</h2>
${problemOf(runs, 'cannot read the history')}
${
  runs.status === 200 && runs.body.items.length === 0
    ? html`<p class="empty">This job has not run yet.</p>`
    : runs.status === 200
      ? html`<table class="list runs"><thead><tr><th scope="col">Run</th><th scope="col">Started (UTC)</th><th scope="col">Trigger</th><th scope="col">Result</th><th scope="col">Files</th><th scope="col">Bytes</th><th scope="col">Took</th><th scope="col">Attempts</th><th scope="col">Error</th></tr></thead>
<tbody>${runs.body.items.map((r) => runRow(j.name, r))}</tbody></table>
${pager(`/console/jobs/${seg(j.name)}`, {}, query.cursor, runs.body.nextCursor)}`
      : ''
}`
    : ''
}`;
    return sendPage(
      reply,
      { title: `Job ${name}`, section: 'jobs', who: op.who, ...outcomeOf(op.who, query) },
      body,
      job.status === 404 ? 404 : 200,
    );
  });

  app.post('/console/jobs/:name', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const form = formOf(request);
    const patch: Record<string, unknown> = {
      schedule: form.schedule?.trim() ? form.schedule.trim() : null,
      enabled: form.enabled === 'on',
    };
    const retries = numberField(form.retries);
    if (retries !== undefined) patch.retries = retries;
    const backoff = numberField(form.backoff);
    if (backoff !== undefined) patch.backoffMs = typeof backoff === 'number' ? backoff * 1000 : backoff;
    const answer = await api.send(request, 'PATCH', `/api/jobs/${seg(name)}`, patch, form._csrf ?? '');
    return backTo(
      reply,
      op.who,
      `/console/jobs/${seg(name)}`,
      answer.status === 200 ? { notice: `Saved ${name}.` } : { error: answer.problem ?? 'failed' },
    );
  });

  app.get('/console/jobs/:name/runs/:id', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name, id } = request.params as { name: string; id: string };
    const answer = await api.get<RunView>(request, `/api/jobs/${seg(name)}/runs/${seg(id)}`);
    const r = answer.status === 200 ? answer.body : undefined;
    const files = (r?.files ?? []) as RunFile[];
    const body = html`<p class="crumbs"><a href="/console/jobs">Jobs</a> › <a href="/console/jobs/${seg(name)}">${name}</a> › run ${id}</p>
<h1>Run ${id} of ${name}</h1>
${problemOf(answer, 'cannot read the run')}
${
  r
    ? html`<dl class="status"><dt>Result</dt><dd>${statusBadge(r.status)}</dd>
<dt>Started</dt><dd>${utc(r.started)} UTC (${r.trigger})</dd><dt>Finished</dt><dd>${r.finished ? `${utc(r.finished)} UTC` : 'still running'}</dd>
<dt>Attempts</dt><dd>${r.attempts}</dd><dt>Moved</dt><dd>${files.length} file${files.length === 1 ? '' : 's'}, ${humanSize(r.bytes)}</dd></dl>
${r.error ? html`<p class="error run-error" role="alert">${r.error}</p>` : ''}
<h2>Files</h2>
${
  files.length === 0
    ? html`<p class="empty">No file was transferred in this run.</p>`
    : html`<table class="list files"><thead><tr><th scope="col">File</th><th scope="col">Bytes</th><th scope="col">Resumed from</th><th scope="col">Verified by</th><th scope="col">SHA-256</th><th scope="col">Took</th></tr></thead>
<tbody>${files.map(
        (
          f,
        ) => html`<tr><td class="name">${f.path ?? f.name ?? ''}</td><td>${f.bytes ?? ''}</td><td>${f.resumedFrom ? f.resumedFrom : ''}</td>
<td>${f.verified ?? ''}</td><td><code class="hash">${f.sha256 ?? ''}</code></td><td>${f.durationMs !== undefined ? `${f.durationMs} ms` : ''}</td></tr>`,
      )}</tbody></table>`
}`
    : ''
}`;
    return sendPage(
      reply,
      { title: `Run ${id} of ${name}`, section: 'jobs', who: op.who },
      body,
      answer.status === 404 ? 404 : 200,
    );
  });
}
