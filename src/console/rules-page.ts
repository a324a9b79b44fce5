// /console/rules: event rules: list (pages by the API's cursor), import a rules file (YAML or JSON, as `ferry rules
// import`), turn on or off, remove, and a rule's page with its test (dry run, or its actions run once now).
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
  utc,
} from './ops-kit.js';
import { backTo, type Form, formOf, outcomeOf, queryOf, seg } from './request.js';

interface RuleView {
  readonly name: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly events: readonly string[];
  readonly schedule?: string;
  readonly conditions: Record<string, unknown>;
  readonly actions: readonly Record<string, unknown>[];
  readonly secret: string;
  readonly updated: string;
}

interface TestRun {
  readonly event: string;
  readonly fields: Record<string, string>;
  readonly fires: boolean;
  readonly wouldRun?: readonly Record<string, unknown>[];
  readonly counted?: { counts: boolean; note: string };
  readonly ran?: readonly {
    action: number;
    kind: string;
    ok: boolean;
    responseCode: number | null;
    error: string | null;
    latencyMs: number;
  }[];
}

const PAGE_SIZE = 50;
const EXAMPLE = `rules:
  - name: partner-in
    events: [upload]
    conditions: { paths: ['/inbound/acme/**'] }
    actions:
      - { kind: webhook, url: 'https://hooks.example.com/ferry' }
    secret: a-long-random-signing-secret`;

const onOff = (on: boolean) =>
  on ? html`<span class="badge on">on</span>` : html`<span class="badge off">off</span>`;

function ruleActions(op: Operator, r: RuleView, back: string): Html {
  if (!op.may('rules:write')) return html``;
  return html`<form method="post" action="/console/rules/${seg(r.name)}/${r.enabled ? 'disable' : 'enable'}">${csrfField(op.who)}
  <input type="hidden" name="back" value="${back}"><button type="submit">${r.enabled ? 'Disable' : 'Enable'}</button></form>
<form method="post" action="/console/rules/${seg(r.name)}/remove" class="confirm" data-confirm="Remove rule ${r.name}? Its past deliveries stay listed.">${csrfField(op.who)}
  <button type="submit" class="danger">Delete</button></form>`;
}

function importForm(op: Operator, draft: string | undefined): Html {
  if (!op.may('rules:write')) return html``;
  return html`<details class="create"${draft !== undefined ? html` open` : ''}><summary>Add or update rules (import a rules file)</summary>
<form method="post" action="/console/rules/import">${csrfField(op.who)}
  <label for="file">Rules file <span class="hint">(YAML or JSON, as <code>ferry rules import</code> reads it; rules it does not name are kept)</span></label>
  <textarea id="file" name="file" rows="10" required spellcheck="false" placeholder="${EXAMPLE}">${draft ?? ''}</textarea>
  <button type="submit">Import</button>
</form></details>`;
}

function sampleForm(op: Operator, r: RuleView, f: Form): Html {
  return html`<form class="edit sample" method="post" action="/console/rules/${seg(r.name)}/test">${csrfField(op.who)}
  ${select('event', 'Event', r.events, f.event ?? r.events[0])}
  ${input('user', 'User', { value: f.user, placeholder: 'test' })}
  ${input('path', 'Path', { value: f.path, placeholder: '/test/sample.txt' })}
  ${input('size', 'Size in bytes', { value: f.size, extra: html` inputmode="numeric"` })}
  ${select('status', 'Result', ['ok', 'failed'], f.status ?? 'ok')}
  <div class="tools"><button type="submit" name="mode" value="dry">Dry run (nothing runs)</button>
  ${op.may('rules:write') ? html`<button type="submit" name="mode" value="run" class="primary">Run its actions now</button>` : ''}</div>
</form>`;
}

function testResult(mode: string, t: TestRun): Html {
  const head = t.fires
    ? html`<p class="ok" role="status">The rule fires for this ${t.event} event.</p>`
    : html`<p class="notice" role="status">The rule does not fire for this ${t.event} event: nothing ${mode === 'run' ? 'ran' : 'would run'}.</p>`;
  const ran = t.ran ?? [];
  return html`<section class="test-result" aria-labelledby="result-title"><h2 id="result-title">${mode === 'run' ? 'Test run' : 'Dry run'}</h2>
${head}${t.counted ? html`<p class="hint">${t.counted.note}</p>` : ''}
${
  mode === 'run' && ran.length > 0
    ? html`<table class="list"><thead><tr><th scope="col">Action</th><th scope="col">Kind</th><th scope="col">Result</th><th scope="col">Response</th><th scope="col">Took</th><th scope="col">Error</th></tr></thead>
<tbody>${ran.map(
        (
          a,
        ) => html`<tr class="${a.ok ? '' : 'bad'}"><td>${a.action}</td><td>${a.kind}</td><td>${a.ok ? html`<span class="badge on">ok</span>` : html`<span class="badge off">failed</span>`}</td>
<td>${a.responseCode ?? ''}</td><td>${Math.round(a.latencyMs)} ms</td><td class="wrap">${a.error ?? ''}</td></tr>`,
      )}</tbody></table>`
    : ''
}
${t.wouldRun && t.wouldRun.length > 0 ? html`<h3>Would run</h3><pre>${JSON.stringify(t.wouldRun, null, 2)}</pre>` : ''}
<details><summary>Event fields</summary><pre>${JSON.stringify(t.fields, null, 2)}</pre></details></section>`;
}

export function rulesPage(app: FastifyInstance, api: ConsoleApi): void {
  async function listPage(
    request: FastifyRequest,
    op: Operator,
    draft?: string,
    error?: string,
  ): Promise<Html> {
    const query = queryOf(request);
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (query.cursor) params.set('cursor', query.cursor);
    const answer = await api.get<{ items: RuleView[]; nextCursor: string | null }>(
      request,
      `/api/rules?${params}`,
    );
    const { items = [], nextCursor = null } = answer.status === 200 ? answer.body : {};
    return html`<h1>Rules</h1>
<p class="lead">Rules act on events (uploads, logins, schedules): webhooks, e-mail, commands, file actions, jobs. What they delivered is on the <a href="/console/deliveries">Deliveries</a> page.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
${answer.status === 200 ? importForm(op, draft) : ''}
${
  answer.status !== 200
    ? problemOf(answer, 'cannot list rules')
    : items.length === 0
      ? html`<p class="empty">No rules yet.${op.may('rules:write') ? ' Import a rules file above.' : ''}</p>`
      : html`<table class="list"><thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Events</th><th scope="col">Actions run</th><th scope="col">Description</th><th scope="col">Changed (UTC)</th><th scope="col">Actions</th></tr></thead>
<tbody>${items.map(
          (
            r,
          ) => html`<tr><td class="name"><a href="/console/rules/${seg(r.name)}">${r.name}</a></td><td>${onOff(r.enabled)}</td>
<td>${r.events.join(', ')}${r.schedule ? ` (${r.schedule})` : ''}</td><td>${r.actions.map((a) => String(a.kind)).join(', ')}</td>
<td>${r.description ?? ''}</td><td>${utc(r.updated)}</td>
<td class="actions"><a class="button" href="/console/rules/${seg(r.name)}">Test…</a> ${ruleActions(op, r, 'list')}</td></tr>`,
        )}</tbody></table>
${pager('/console/rules', {}, query.cursor, nextCursor)}`
}`;
  }

  async function rulePage(request: FastifyRequest, op: Operator, name: string, form: Form, result?: Html) {
    const answer = await api.get<RuleView>(request, `/api/rules/${seg(name)}`);
    const r = answer.status === 200 ? answer.body : undefined;
    return html`<p class="crumbs"><a href="/console/rules">Rules</a> › ${name}</p>
<h1>Rule ${name}</h1>
${problemOf(answer, 'cannot read the rule')}
${
  r
    ? html`<dl class="status"><dt>State</dt><dd>${onOff(r.enabled)}</dd><dt>Events</dt><dd>${r.events.join(', ')}</dd>
${r.description ? html`<dt>Description</dt><dd>${r.description}</dd>` : ''}
<dt>Webhook secret</dt><dd>${r.secret}</dd></dl>
<div class="tools">${ruleActions(op, r, 'rule')}
<a class="button" href="/console/deliveries?rule=${encodeURIComponent(r.name)}">Its deliveries</a></div>
<details><summary>Conditions and actions</summary><pre>${JSON.stringify({ conditions: r.conditions, actions: r.actions }, null, 2)}</pre></details>
<h2>Test with a sample event</h2>
${sampleForm(op, r, form)}
${result ?? ''}`
    : ''
}`;
  }

  app.get('/console/rules', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    return sendPage(
      reply,
      { title: 'Rules', section: 'rules', who: op.who, ...outcomeOf(op.who, queryOf(request)) },
      await listPage(request, op),
    );
  });

  app.post('/console/rules/import', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const form = formOf(request);
    const file = form.file ?? '';
    // The file as it was pasted: the API's import reads YAML (JSON is YAML too), as the CLI does.
    const answer = await api.send<{ added: string[]; updated: string[]; unchanged: string[] }>(
      request,
      'POST',
      '/api/rules/import',
      file,
      form._csrf ?? '',
      'application/yaml',
    );
    if (answer.status === 200) {
      const { added, updated, unchanged } = answer.body;
      const part = (label: string, names: string[]) => (names.length ? `${label} ${names.join(', ')}` : '');
      const said = [part('added', added), part('updated', updated), part('unchanged', unchanged)].filter(
        Boolean,
      );
      return backTo(reply, op.who, '/console/rules', {
        notice: `Imported: ${said.join('; ') || 'no rules'}.`,
      });
    }
    return sendPage(
      reply,
      { title: 'Rules', section: 'rules', who: op.who },
      await listPage(request, op, file, answer.problem ?? 'failed'),
      answer.status,
    );
  });

  for (const [action, verb] of [
    ['enable', 'Enabled'],
    ['disable', 'Disabled'],
  ] as const)
    app.post(`/console/rules/:name/${action}`, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
      const op = await operatorOf(api, request);
      const { name } = request.params as { name: string };
      const form = formOf(request);
      const answer = await api.send(
        request,
        'POST',
        `/api/rules/${seg(name)}/${action}`,
        undefined,
        form._csrf ?? '',
      );
      const to = form.back === 'rule' ? `/console/rules/${seg(name)}` : '/console/rules';
      return backTo(
        reply,
        op.who,
        to,
        answer.status === 200 ? { notice: `${verb} rule ${name}.` } : { error: answer.problem ?? 'failed' },
      );
    });

  app.post('/console/rules/:name/remove', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const answer = await api.send(
      request,
      'DELETE',
      `/api/rules/${seg(name)}`,
      undefined,
      formOf(request)._csrf ?? '',
    );
    return backTo(
      reply,
      op.who,
      '/console/rules',
      answer.status < 300 ? { notice: `Removed rule ${name}.` } : { error: answer.problem ?? 'failed' },
    );
  });

  app.get('/console/rules/:name', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    return sendPage(
      reply,
      { title: `Rule ${name}`, section: 'rules', who: op.who, ...outcomeOf(op.who, queryOf(request)) },
      await rulePage(request, op, name, {}),
    );
  });

  // A test answers with its result on the page itself (nothing to redirect to); a run is recorded by the API.
  app.post('/console/rules/:name/test', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const form = formOf(request);
    const mode = form.mode === 'run' ? 'run' : 'dry';
    const sample: Record<string, unknown> = {};
    for (const key of ['event', 'user', 'path', 'status'] as const) if (form[key]) sample[key] = form[key];
    const size = numberField(form.size);
    if (size !== undefined) sample.size = size;
    const answer = await api.send<TestRun>(
      request,
      'POST',
      `/api/rules/${seg(name)}/test${mode === 'run' ? '/run' : ''}`,
      sample,
      form._csrf ?? '',
    );
    const result =
      answer.status === 200 ? testResult(mode, answer.body) : problemOf(answer, 'the test failed');
    return sendPage(
      reply,
      { title: `Rule ${name}`, section: 'rules', who: op.who },
      await rulePage(request, op, name, form, result),
      answer.status === 200 ? 200 : answer.status,
    );
  });
}
