// /console/partners: the SFTP and FTPS servers jobs transfer with: list (pages by the API's cursor), add, change,
// remove, all through /api/partners; the host key dialog is partner-hostkey-page.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
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
  select,
  sendPage,
  utc,
} from './ops-kit.js';
import { backTo, type Form, formOf, outcomeOf, queryOf, seg } from './request.js';
import { type Column, sortableHead, sortOf } from './sort-header.js';

export interface PartnerView {
  readonly name: string;
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: boolean;
  readonly clientKey: string | null;
  readonly hostKey: string | null;
  readonly caFile: string | null;
  readonly renameUploads: boolean;
  readonly readBack: boolean;
  readonly algorithms: string;
  readonly created: string;
}

const PAGE_SIZE = 50;
const PARTNER_COLUMNS: readonly Column[] = [
  { label: 'Name', sort: 'name' },
  { label: 'Protocol', sort: 'protocol' },
  { label: 'Address', sort: 'host' },
  { label: 'Login' },
  { label: 'Host key' },
  { label: 'Algorithms' },
  { label: 'Actions' },
];
const PROTOCOLS = [
  ['sftp', 'SFTP'],
  ['ftps', 'FTPS (explicit TLS)'],
  ['ftps-implicit', 'FTPS (implicit TLS)'],
] as const;
const ALGORITHMS = [
  ['modern', 'modern (post-quantum first, no SHA-1)'],
  ['compat', 'compat (adds NIST ECDH and ECDSA)'],
] as const;

/** The fields both forms share, filled from a partner (edit) or from the form sent back (a refused create). */
function partnerFields(v: Partial<Record<keyof PartnerView, unknown>>, editing: boolean): Html {
  const text = (x: unknown) => (x === undefined || x === null ? undefined : String(x));
  return html`${select('protocol', 'Protocol', PROTOCOLS, text(v.protocol) ?? 'sftp')}
${input('host', 'Host', { value: text(v.host), required: true, placeholder: 'sftp.partner.example' })}
${input('port', 'Port', { value: text(v.port), hint: 'empty: 22, 21 for FTPS, 990 for implicit FTPS', type: 'text', extra: html` inputmode="numeric"` })}
${input('user', 'User name at the partner', { value: text(v.username), required: true })}
${input('password', 'Password', { type: 'password', hint: editing ? 'empty: unchanged' : 'or a client key, or both', extra: html` autocomplete="new-password"` })}
${editing && v.password ? checkbox('removePassword', 'Remove the stored password', false) : ''}
${input('clientKey', 'Client key', { value: text(v.clientKey), hint: 'name of a client key in the Key Manager' })}
${select('algorithms', 'SSH algorithms', ALGORITHMS, text(v.algorithms) ?? 'modern')}
${input('caFile', 'CA file', { value: text(v.caFile), hint: 'FTPS only: PEM file on the server, instead of pinning the certificate' })}
${checkbox('renameUploads', 'Upload under a temporary name, then rename', v.renameUploads === undefined ? true : v.renameUploads === true || v.renameUploads === 'on')}
${checkbox('readBack', 'Read each upload back to verify it', v.readBack === true || v.readBack === 'on')}`;
}

function createForm(op: Operator, draft: Form | undefined): Html {
  if (!op.may('partners:write')) return html``;
  const v = draft ? { ...draft, username: draft.user } : {};
  return html`<details class="create"${draft ? html` open` : ''}><summary>Add a partner</summary>
<form method="post" action="/console/partners">${csrfField(op.who)}
  ${input('name', 'Name', { value: draft?.name, required: true, extra: html` maxlength="200"` })}
  ${partnerFields(v, false)}
  <button type="submit">Add partner</button>
</form></details>`;
}

function partnerRow(op: Operator, p: PartnerView): Html {
  const login = [p.password ? 'password' : '', p.clientKey ? `key ${p.clientKey}` : ''].filter(Boolean);
  const actions = html`<a class="button" href="/console/partners/${seg(p.name)}/hostkey">Host key…</a>
${
  op.may('partners:write')
    ? html`<a class="button" href="/console/partners/${seg(p.name)}">Edit</a>
<form method="post" action="/console/partners/${seg(p.name)}/remove" class="confirm" data-confirm="Remove partner ${p.name}? Jobs that use it must be removed first.">${csrfField(op.who)}
  <button type="submit" class="danger">Delete</button></form>`
    : ''
}`;
  return html`<tr>
<td class="name"><a href="/console/partners/${seg(p.name)}">${p.name}</a></td>
<td>${p.protocol}</td><td>${p.host}:${p.port}</td>
<td>${p.username}${login.length ? ` (${login.join(', ')})` : ''}</td>
<td>${p.hostKey ? html`<code>${p.hostKey}</code>` : html`<span class="badge off">not trusted</span>`}</td>
<td>${p.algorithms}</td>
<td class="actions">${actions}</td></tr>`;
}

/** The create body from the form: only what was filled in, as the API names it. */
function createBody(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: form.name ?? '',
    protocol: form.protocol || 'sftp',
    host: form.host ?? '',
    user: form.user ?? '',
    algorithms: form.algorithms || 'modern',
    renameUploads: form.renameUploads === 'on',
    readBack: form.readBack === 'on',
  };
  const port = numberField(form.port);
  if (port !== undefined) body.port = port;
  if (form.password) body.password = form.password;
  if (form.clientKey) body.clientKey = form.clientKey.trim();
  if (form.caFile) body.caFile = form.caFile.trim();
  return body;
}

/** The change body from the edit form: every field it shows; empty password unchanged, empty key or CA removed. */
function patchBody(form: Form, before: PartnerView): Record<string, unknown> {
  const body: Record<string, unknown> = {
    protocol: form.protocol || before.protocol,
    host: form.host ?? '',
    user: form.user ?? '',
    algorithms: form.algorithms || before.algorithms,
    renameUploads: form.renameUploads === 'on',
    readBack: form.readBack === 'on',
  };
  const port = numberField(form.port);
  if (port !== undefined) body.port = port;
  if (form.removePassword === 'on') body.password = null;
  else if (form.password) body.password = form.password;
  const key = form.clientKey?.trim() ?? '';
  if (key) body.clientKey = key;
  else if (before.clientKey !== null) body.clientKey = null;
  const ca = form.caFile?.trim() ?? '';
  if (ca) body.caFile = ca;
  else if (before.caFile !== null) body.caFile = null;
  return body;
}

export function partnersPage(app: FastifyInstance, api: ConsoleApi): void {
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
    const answer = await api.get<{ items: PartnerView[]; nextCursor: string | null }>(
      request,
      `/api/partners?${params}`,
    );
    const { items = [], nextCursor = null } = answer.status === 200 ? answer.body : {};
    return html`<h1>Partners</h1>
<p class="lead">SFTP and FTPS servers that transfer jobs push to and pull from. Trust a partner's host key before its first run.</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
${answer.status === 200 ? createForm(op, draft) : ''}
${
  answer.status !== 200
    ? problemOf(answer, 'cannot list partners')
    : items.length === 0
      ? html`<p class="empty">No partners yet.${op.may('partners:write') ? ' Add one above.' : ''}</p>`
      : html`<table class="list">${sortableHead('/console/partners', PARTNER_COLUMNS, sort, {})}
<tbody>${items.map((p) => partnerRow(op, p))}</tbody></table>
${pager('/console/partners', { sort }, query.cursor, nextCursor)}`
}`;
  }

  app.get('/console/partners', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    return sendPage(
      reply,
      { title: 'Partners', section: 'partners', who: op.who, ...outcomeOf(op.who, queryOf(request)) },
      await listPage(request, op),
    );
  });

  app.post('/console/partners', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const form = formOf(request);
    const answer = await api.send(request, 'POST', '/api/partners', createBody(form), form._csrf ?? '');
    if (answer.status === 201)
      return backTo(reply, op.who, `/console/partners/${seg(form.name ?? '')}/hostkey`, {
        notice: `Added partner ${form.name}. Compare its host key before trusting it.`,
      });
    // The form again, as it was filled in (never the password), with the API's reason.
    const { password: _secret, ...draft } = form;
    return sendPage(
      reply,
      { title: 'Partners', section: 'partners', who: op.who },
      await listPage(request, op, draft, answer.problem ?? 'failed'),
      answer.status,
    );
  });

  app.get('/console/partners/:name', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const answer = await api.get<PartnerView>(request, `/api/partners/${seg(name)}`);
    const p = answer.status === 200 ? answer.body : undefined;
    const body = html`<p class="crumbs"><a href="/console/partners">Partners</a> › ${name}</p>
<h1>Partner ${name}</h1>
${problemOf(answer, 'cannot read the partner')}
${
  p
    ? html`<dl class="status"><dt>Address</dt><dd>${p.protocol}://${p.host}:${p.port}</dd>
<dt>Host key</dt><dd>${p.hostKey ? html`<code>${p.hostKey}</code>` : html`<span class="badge off">not trusted</span>`}
  <a class="button" href="/console/partners/${seg(p.name)}/hostkey">Check the host key…</a></dd>
<dt>Added</dt><dd>${utc(p.created)}</dd></dl>
${
  op.may('partners:write')
    ? html`<h2>Change</h2><form class="edit" method="post" action="/console/partners/${seg(p.name)}">${csrfField(op.who)}
${partnerFields(p, true)}
<p class="hint">A new host, port or protocol forgets the trusted host key: trust it again before the next run.</p>
<button type="submit">Save changes</button></form>
<form method="post" action="/console/partners/${seg(p.name)}/remove" class="confirm" data-confirm="Remove partner ${p.name}? Jobs that use it must be removed first.">${csrfField(op.who)}
  <button type="submit" class="danger">Delete partner</button></form>`
    : html`<dl class="status"><dt>User</dt><dd>${p.username}</dd><dt>Client key</dt><dd>${p.clientKey ?? 'none'}</dd>
<dt>Algorithms</dt><dd>${p.algorithms}</dd></dl>`
}`
    : ''
}`;
    return sendPage(
      reply,
      { title: `Partner ${name}`, section: 'partners', who: op.who, ...outcomeOf(op.who, queryOf(request)) },
      body,
      answer.status === 404 ? 404 : 200,
    );
  });

  app.post('/console/partners/:name', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const form = formOf(request);
    const here = `/console/partners/${seg(name)}`;
    const before = await api.get<PartnerView>(request, `/api/partners/${seg(name)}`);
    if (before.status !== 200) return backTo(reply, op.who, here, { error: before.problem ?? 'failed' });
    const answer = await api.send<PartnerView>(
      request,
      'PATCH',
      `/api/partners/${seg(name)}`,
      patchBody(form, before.body),
      form._csrf ?? '',
    );
    const forgot = answer.status === 200 && before.body.hostKey !== null && answer.body.hostKey === null;
    return backTo(
      reply,
      op.who,
      here,
      answer.status === 200
        ? { notice: `Saved ${name}.${forgot ? ' Its address changed: trust its host key again.' : ''}` }
        : { error: answer.problem ?? 'failed' },
    );
  });

  app.post('/console/partners/:name/remove', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const op = await operatorOf(api, request);
    const { name } = request.params as { name: string };
    const answer = await api.send(
      request,
      'DELETE',
      `/api/partners/${seg(name)}`,
      undefined,
      formOf(request)._csrf ?? '',
    );
    return backTo(
      reply,
      op.who,
      '/console/partners',
      answer.status < 300 ? { notice: `Removed partner ${name}.` } : { error: answer.problem ?? 'failed' },
    );
  });
}
