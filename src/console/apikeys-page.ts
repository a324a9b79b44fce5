// /console/apikeys: API keys (list with last use, issue, revoke) over /api/apikeys. A new key is on the answer
// page of its form only: the API returns it once and stores only its hash, so no later page can show it.
import type { FastifyInstance } from 'fastify';
import { html } from '../web/html.js';
import { mayManageAccess } from './admins-page.js';
import type { ConsoleApi } from './api-client.js';
import { defined, formAction, optional } from './form-action.js';
import { listOrProblem } from './keys-pgp-x509.js';
import { consolePage, csrfField } from './layout.js';
import { backTo, formOf, outcomeOf, queryOf, seg, whoIs } from './request.js';

interface ApiKeyView {
  readonly name: string;
  readonly role: string;
  readonly prefix: string;
  readonly created: string;
  readonly expires: string | null;
  readonly lastUsed: string | null;
  readonly createdBy: string;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };
const PAGE = '/console/apikeys';
const when = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') : '');

/** A date field (YYYY-MM-DD) as the API's timestamp: the key expires at the start of that day, UTC. */
const expiryOf = (value: string | undefined) => {
  const v = optional(value);
  return v !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v;
};

export function apiKeysPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get(PAGE, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const answer = await api.get(request, '/api/apikeys');
    const manage = mayManageAccess(who);
    const create = manage
      ? html`<details class="create"><summary>Issue an API key</summary>
<form method="post" action="${PAGE}">${csrfField(who)}
  <label for="key-name">Name</label><input id="key-name" name="name" required maxlength="64" autocomplete="off">
  <label for="key-role">Role</label><select id="key-role" name="role"><option value="auditor">auditor</option><option value="operator">operator</option><option value="admin">admin</option></select>
  <label for="key-expires">Expires <span class="hint">(UTC date; empty: never)</span></label><input id="key-expires" name="expires" type="date">
  <button type="submit">Issue</button></form></details>`
      : '';
    const table = listOrProblem<ApiKeyView>(
      answer,
      'No API keys.',
      (
        items,
      ) => html`<table class="list"><thead><tr><th>Name</th><th>Role</th><th>Prefix</th><th>Created</th><th>Expires</th><th>Last used (UTC)</th><th>Created by</th><th>Actions</th></tr></thead>
<tbody>${items.map(
        (
          k,
        ) => html`<tr><td class="name">${k.name}</td><td>${k.role}</td><td class="mono">${k.prefix}…</td><td>${when(k.created)}</td>
<td>${when(k.expires) || 'never'}</td><td>${when(k.lastUsed) || 'never'}</td><td>${k.createdBy}</td>
<td class="actions">${
          manage
            ? html`<form method="post" action="${PAGE}/${seg(k.name)}/revoke" class="confirm" data-confirm="Revoke API key ${k.name}? Scripts using it are refused from now on.">${csrfField(who)}<button type="submit" class="danger">Revoke</button></form>`
            : ''
        }</td></tr>`,
      )}</tbody></table>`,
    );
    const body = html`<h1>API keys</h1>
<p>Bearer keys for scripts: <code>curl -H 'Authorization: Bearer ferry_…'</code>. A key is shown once, when it is issued; only its prefix is kept in view.</p>
${create}${table}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'API keys', section: 'apikeys', who, ...outcomeOf(who, queryOf(request)) },
          body,
        ),
      );
  });

  // Not a redirect: the key cannot travel in a URL (history, logs), and no other page can show it again.
  app.post(PAGE, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const form = formOf(request);
    const answer = await api.send<ApiKeyView & { key: string }>(
      request,
      'POST',
      '/api/apikeys',
      defined({ name: form.name ?? '', role: form.role ?? '', expiresAt: expiryOf(form.expires) }),
      form._csrf ?? '',
    );
    if (answer.status !== 201) return backTo(reply, who, PAGE, { error: answer.problem ?? 'failed' });
    const k = answer.body;
    const body = html`<h1>API key ${k.name}</h1>
<p>Copy the key now: it is shown only on this page, and Ferry keeps only its hash.</p>
<p><label for="new-key">Key (role ${k.role}${k.expires ? `, expires ${when(k.expires)}` : ''})</label>
<input id="new-key" class="secret" readonly value="${k.key}" size="60"></p>
<p><code class="wrap">curl -H 'Authorization: Bearer ${k.key}' ${`${request.protocol}://${request.host}`}/api/status</code></p>
<p><a href="${PAGE}">Back to the API keys</a></p>`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'API key issued', section: 'apikeys', who, notice: `Issued API key ${k.name}.` },
          body,
        ),
      );
  });

  formAction(
    app,
    api,
    `${PAGE}/:name/revoke`,
    PAGE,
    (_f, p) => ({ method: 'DELETE', path: `/api/apikeys/${seg(p.name ?? '')}` }),
    (_f, p) => `Revoked API key ${p.name}.`,
  );
}
