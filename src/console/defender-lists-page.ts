// /console/defender/lists: the defender's allow and deny lists (the config's entries, fixed here, and those added
// at run time), add an address or CIDR, take one off. Every read and change is the REST API's
// (/api/defender/allow|deny), so roles, validation ("would lock you out") and audit are its own.
import type { FastifyInstance } from 'fastify';
import { html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { canChange, consolePage, csrfField } from './layout.js';
import { backTo, formOf, outcomeOf, queryOf, seg, whoIs } from './request.js';

interface EntryView {
  readonly list: 'allow' | 'deny';
  readonly cidr: string;
  readonly source: 'config' | 'store';
  readonly note: string;
  readonly createdBy: string | null;
  readonly created: string | null;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };
const LISTS = {
  allow: { title: 'Allow list', what: 'never banned, scored or limited per address' },
  deny: { title: 'Deny list', what: 'refused before authentication, on every protocol' },
} as const;
type ListName = keyof typeof LISTS;
const isList = (name: string): name is ListName => Object.hasOwn(LISTS, name);

export function defenderListsPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/defender/lists', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const sections = [];
    for (const list of Object.keys(LISTS) as ListName[]) {
      const answer = await api.get<{ items: EntryView[] }>(request, `/api/defender/${list}?limit=1000`);
      const items = answer.status === 200 ? answer.body.items : [];
      const rows = items.map(
        (e) => html`<tr><td><code>${e.cidr}</code></td><td>${e.source === 'config' ? 'config' : 'added'}</td>
<td>${e.note}</td><td>${e.createdBy ?? ''}</td><td>${e.created ? e.created.slice(0, 19).replace('T', ' ') : ''}</td>
<td>${
          canChange(who) && e.source === 'store'
            ? html`<form method="post" action="/console/defender/lists/${list}/${seg(e.cidr)}/remove" class="confirm" data-confirm="Take ${e.cidr} off the ${list} list?">${csrfField(who)}<button type="submit" class="danger">Remove</button></form>`
            : e.source === 'config'
              ? html`<span class="hint">change it in the config</span>`
              : ''
        }</td></tr>`,
      );
      sections.push(html`<section aria-labelledby="${list}-title"><h2 id="${list}-title">${LISTS[list].title}</h2>
<p class="hint">Addresses on it are ${LISTS[list].what}. Entries from the config stay; entries added here apply
at once in every process and node.</p>
${answer.status !== 200 ? html`<p class="error" role="alert">${answer.problem ?? 'cannot list'}</p>` : ''}
${
  items.length === 0 && answer.status === 200
    ? html`<p class="empty">The ${list} list is empty.</p>`
    : html`<table class="list"><thead><tr><th>Address or CIDR</th><th>From</th><th>Note</th><th>Added by</th><th>Added (UTC)</th><th>Actions</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
${
  canChange(who)
    ? html`<form method="post" action="/console/defender/lists/${list}" class="filters">${csrfField(who)}
<label for="${list}-cidr">Address or CIDR</label><input id="${list}-cidr" name="cidr" required maxlength="100" placeholder="${list === 'deny' ? '198.51.100.0/24' : '203.0.113.7'}">
<label for="${list}-note">Note</label><input id="${list}-note" name="note" maxlength="200">
<button type="submit">Add to the ${list} list</button></form>`
    : ''
}</section>`);
    }
    const body = html`<h1>Defender lists</h1>
<p><a href="/console/defender">Scores and bans</a></p>
${sections}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'Defender lists', section: 'defender', who, ...outcomeOf(who, queryOf(request)) },
          body,
        ),
      );
  });

  app.post('/console/defender/lists/:list', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const { list } = request.params as { list: string };
    if (!isList(list)) return reply.code(404).type('text/plain').send('Not found');
    const form = formOf(request);
    const body = { cidr: (form.cidr ?? '').trim(), ...(form.note ? { note: form.note } : {}) };
    const answer = await api.send<EntryView>(
      request,
      'POST',
      `/api/defender/${list}`,
      body,
      form._csrf ?? '',
    );
    return backTo(
      reply,
      who,
      '/console/defender/lists',
      answer.status === 201
        ? { notice: `Added ${answer.body.cidr} to the ${list} list.` }
        : { error: answer.problem ?? 'failed' },
    );
  });

  app.post(
    '/console/defender/lists/:list/:cidr/remove',
    { config: CONFIG, schema: HIDDEN },
    async (request, reply) => {
      const who = await whoIs(api, request);
      const { list, cidr } = request.params as { list: string; cidr: string };
      if (!isList(list)) return reply.code(404).type('text/plain').send('Not found');
      const answer = await api.send(
        request,
        'DELETE',
        `/api/defender/${list}/${seg(cidr)}`,
        undefined,
        formOf(request)._csrf ?? '',
      );
      return backTo(
        reply,
        who,
        '/console/defender/lists',
        answer.status < 300
          ? { notice: `Took ${cidr} off the ${list} list.` }
          : { error: answer.problem ?? 'failed' },
      );
    },
  );
}
