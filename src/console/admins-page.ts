// /console/admins: administrator accounts (list, add, set role, remove) over /api/admins; the admin role's alone.
import type { FastifyInstance } from 'fastify';
import { html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { formAction } from './form-action.js';
import { listOrProblem } from './keys-pgp-x509.js';
import { type ConsoleWho, consolePage, csrfField } from './layout.js';
import { outcomeOf, queryOf, seg, whoIs } from './request.js';

interface AdminView {
  readonly name: string;
  readonly role: 'admin' | 'operator' | 'auditor';
  readonly created: string;
  readonly updated: string;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };
const PAGE = '/console/admins';
const ROLES = ['admin', 'operator', 'auditor'] as const;

/** Accounts and API keys are the admin's (the API's access:manage); other roles see the API's refusal. */
export const mayManageAccess = (who: ConsoleWho) => who.role === 'admin';

const roleSelect = (id: string, current?: string) =>
  html`<select id="${id}" name="role">${ROLES.map(
    (r) => html`<option value="${r}"${r === current ? html` selected` : ''}>${r}</option>`,
  )}</select>`;

export function adminsPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get(PAGE, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const answer = await api.get(request, '/api/admins');
    const manage = mayManageAccess(who);
    const create = manage
      ? html`<details class="create"><summary>Add an administrator</summary>
<form method="post" action="${PAGE}">${csrfField(who)}
  <label for="admin-name">Name</label><input id="admin-name" name="name" required maxlength="64" autocomplete="off">
  <label for="admin-role">Role</label>${roleSelect('admin-role', 'auditor')}
  <label for="admin-password">Password <span class="hint">(at least 12 characters)</span></label>
  <input id="admin-password" name="password" type="password" required minlength="12" autocomplete="new-password">
  <button type="submit">Add</button></form></details>`
      : '';
    const table = listOrProblem<AdminView>(
      answer,
      'No administrator accounts.',
      (
        items,
      ) => html`<table class="list"><thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Updated</th><th>Actions</th></tr></thead>
<tbody>${items.map(
        (
          a,
        ) => html`<tr><td class="name">${a.name}</td><td>${a.role}</td><td>${a.created.slice(0, 10)}</td><td>${a.updated.slice(0, 10)}</td>
<td class="actions">${
          manage
            ? html`<form method="post" action="${PAGE}/${seg(a.name)}/role"><label class="sr" for="role-${a.name}">Role of ${a.name}</label>${roleSelect(`role-${a.name}`, a.role)}${csrfField(who)}<button type="submit">Set role</button></form>
<form method="post" action="${PAGE}/${seg(a.name)}/remove" class="confirm" data-confirm="Remove administrator ${a.name}? Their console sessions end.">${csrfField(who)}<button type="submit" class="danger">Remove</button></form>`
            : ''
        }</td></tr>`,
      )}</tbody></table>`,
    );
    const body = html`<h1>Administrators</h1>
<p>Accounts that sign in to this console and the API. Roles: <strong>admin</strong> everything; <strong>operator</strong> users, partners, jobs, sessions; <strong>auditor</strong> reads the audit trail, sessions and status. Your own second factor: <a href="/console/totp">two-factor sign-in</a>.</p>
${create}${table}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'Administrators', section: 'admins', who, ...outcomeOf(who, queryOf(request)) },
          body,
        ),
      );
  });

  formAction(
    app,
    api,
    PAGE,
    PAGE,
    (f) => ({
      method: 'POST',
      path: '/api/admins',
      body: { name: f.name ?? '', role: f.role ?? '', password: f.password ?? '' },
    }),
    (f) => `Added administrator ${f.name} (${f.role}).`,
  );
  formAction(
    app,
    api,
    `${PAGE}/:name/role`,
    PAGE,
    (f, p) => ({ method: 'PATCH', path: `/api/admins/${seg(p.name ?? '')}`, body: { role: f.role ?? '' } }),
    (f, p) => `${p.name} is now ${f.role}.`,
  );
  formAction(
    app,
    api,
    `${PAGE}/:name/remove`,
    PAGE,
    (_f, p) => ({ method: 'DELETE', path: `/api/admins/${seg(p.name ?? '')}` }),
    (_f, p) => `Removed administrator ${p.name}.`,
  );
}
