// /console/users: list with search and pages, create, disable/enable, unlock, remove, all through /api/users.
import type { FastifyInstance } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { type ConsoleWho, canChange, consolePage, csrfField } from './layout.js';
import { backTo, formOf, outcomeOf, queryOf, seg, whoIs } from './request.js';
import { type Column, sortableHead, sortOf } from './sort-header.js';

interface UserView {
  readonly name: string;
  readonly disabled: boolean;
  readonly hasPassword: boolean;
  readonly permissions: Record<string, readonly string[]>;
  readonly protocols: readonly string[];
  readonly publicKeys: readonly { type: string; fingerprint: string }[];
  readonly created: string;
  readonly updated: string;
}

const CONFIG = { permission: 'public' } as const;
const USER_COLUMNS: readonly Column[] = [
  { label: 'Name', sort: 'name' },
  { label: 'Status' },
  { label: 'Sign-in' },
  { label: 'Folders' },
  { label: 'Protocols' },
  { label: 'Created', sort: 'created' },
  { label: 'Changed', sort: 'updated' },
  { label: 'Actions' },
];
const HIDDEN = { hide: true };
const PAGE_SIZE = 50;

/** One line per folder rule, as `ferry users set --perm` writes them (`/in=list,upload`). */
const permissionLines = (u: UserView) =>
  Object.entries(u.permissions).map(([dir, perms]) => `${dir}=${perms.join(',')}`);

function userRow(who: ConsoleWho, u: UserView): Html {
  const actions = canChange(who)
    ? html`<form method="post" action="/console/users/${seg(u.name)}/${u.disabled ? 'enable' : 'disable'}">${csrfField(who)}
  <button type="submit">${u.disabled ? 'Enable' : 'Disable'}</button></form>
<form method="post" action="/console/users/${seg(u.name)}/unlock">${csrfField(who)}<button type="submit">Unlock</button></form>
<a href="/console/users/${seg(u.name)}/totp">TOTP</a>
<form method="post" action="/console/users/${seg(u.name)}/remove" class="confirm" data-confirm="Remove user ${u.name}? Their files stay on disk.">${csrfField(who)}
  <button type="submit" class="danger">Remove</button></form>`
    : '';
  return html`<tr>
<td class="name"><a href="/console/users/${seg(u.name)}">${u.name}</a></td>
<td>${u.disabled ? html`<span class="badge off">disabled</span>` : html`<span class="badge on">active</span>`}</td>
<td>${[u.hasPassword ? 'password' : '', u.publicKeys.length > 0 ? `${u.publicKeys.length} key(s)` : ''].filter(Boolean).join(', ') || 'none'}</td>
<td class="perms">${permissionLines(u).join(' ')}</td>
<td>${u.protocols.length === 0 ? 'all' : u.protocols.join(', ')}</td>
<td><time datetime="${u.created}">${u.created.slice(0, 10)}</time></td>
<td><time datetime="${u.updated}">${u.updated.slice(0, 10)}</time></td>
<td class="actions">${actions}</td></tr>`;
}

function createForm(who: ConsoleWho): Html {
  if (!canChange(who)) return html``;
  return html`<details class="create"><summary>Create a user</summary>
<form method="post" action="/console/users">${csrfField(who)}
  <label for="username">User name</label><input id="username" name="username" required maxlength="200">
  <label for="password">Password <span class="hint">(or a key below, or both)</span></label>
  <input id="password" name="password" type="password" autocomplete="new-password">
  <label for="publicKeys">Public keys <span class="hint">(OpenSSH format, one per line)</span></label>
  <textarea id="publicKeys" name="publicKeys" rows="3"></textarea>
  <label for="permissions">Folder permissions <span class="hint">(one per line, e.g. <code>/=list,download</code> and <code>/in=*</code>; empty: full access to the home)</span></label>
  <textarea id="permissions" name="permissions" rows="3"></textarea>
  <button type="submit">Create</button>
</form></details>`;
}

const lines = (text: string | undefined) =>
  (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');

export function usersPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/users', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const query = queryOf(request);
    const search = query.search ?? '';
    const sort = sortOf(query, 'name');
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), sort });
    if (search) params.set('search', search);
    if (query.cursor) params.set('cursor', query.cursor);
    const answer = await api.get<{ items: UserView[]; nextCursor: string | null }>(
      request,
      `/api/users?${params}`,
    );
    const { items = [], nextCursor = null } = answer.status === 200 ? answer.body : {};
    const next = new URLSearchParams({
      ...(search ? { search } : {}),
      sort,
      ...(nextCursor ? { cursor: nextCursor } : {}),
    });
    const body = html`<h1>Users</h1>
<form class="search" method="get" action="/console/users" role="search">
  <label for="search">Search by name</label><input id="search" name="search" value="${search}" type="search">
  <input type="hidden" name="sort" value="${sort}">
  <button type="submit">Search</button></form>
${createForm(who)}
${
  answer.status !== 200
    ? html`<p class="error" role="alert">${answer.problem ?? 'cannot list users'}</p>`
    : items.length === 0
      ? html`<p class="empty">${search ? `No user name contains “${search}”.` : 'No users yet.'}</p>`
      : html`<table class="list">${sortableHead('/console/users', USER_COLUMNS, sort, { search })}
<tbody>${items.map((u) => userRow(who, u))}</tbody></table>
${nextCursor ? html`<p class="pager"><a href="/console/users?${next.toString()}">Next page</a></p>` : ''}`
}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(consolePage({ title: 'Users', section: 'users', who, ...outcomeOf(who, query) }, body));
  });

  app.post('/console/users', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const form = formOf(request);
    const body: Record<string, unknown> = {
      username: form.username ?? '',
      publicKeys: lines(form.publicKeys),
    };
    if (form.password) body.password = form.password;
    const permissions = lines(form.permissions);
    if (permissions.length > 0) body.permissions = permissions;
    const answer = await api.send(request, 'POST', '/api/users', body, form._csrf ?? '');
    return backTo(
      reply,
      who,
      '/console/users',
      answer.status === 201
        ? { notice: `Created user ${form.username}.` }
        : { error: answer.problem ?? 'failed' },
    );
  });

  const change = (
    action: string,
    call: (name: string) => { method: 'PATCH' | 'POST' | 'DELETE'; path: string; body?: unknown },
    done: (name: string) => string,
  ) =>
    app.post(`/console/users/:name/${action}`, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
      const who = await whoIs(api, request);
      const { name } = request.params as { name: string };
      const { method, path, body } = call(name);
      const form = formOf(request);
      const answer = await api.send(request, method, path, body, form._csrf ?? '');
      return backTo(
        reply,
        who,
        // The user's own page posts these too, and wants to come back to itself.
        form.back === 'user' ? `/console/users/${seg(name)}` : '/console/users',
        answer.status < 300 ? { notice: done(name) } : { error: answer.problem ?? 'failed' },
      );
    });
  change(
    'disable',
    (n) => ({ method: 'PATCH', path: `/api/users/${seg(n)}`, body: { disabled: true } }),
    (n) => `Disabled ${n}.`,
  );
  change(
    'enable',
    (n) => ({ method: 'PATCH', path: `/api/users/${seg(n)}`, body: { disabled: false } }),
    (n) => `Enabled ${n}.`,
  );
  change(
    'unlock',
    (n) => ({ method: 'POST', path: `/api/users/${seg(n)}/unlock` }),
    (n) => `Unlocked ${n}.`,
  );
  change(
    'remove',
    (n) => ({ method: 'DELETE', path: `/api/users/${seg(n)}` }),
    (n) => `Removed ${n}.`,
  );
}
