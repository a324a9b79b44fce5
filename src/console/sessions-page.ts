// /console/sessions (live connections of every worker, kill one) and /console/defender (scores, bans, unban).
import type { FastifyInstance } from 'fastify';
import { html, humanSize } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { canChange, consolePage, csrfField } from './layout.js';
import { backTo, formOf, outcomeOf, queryOf, seg, whoIs } from './request.js';
import { type Column, sortableHead, sortOf } from './sort-header.js';

interface SessionView {
  readonly id: string;
  readonly remoteAddress: string;
  readonly protocol: string;
  readonly username: string | null;
  readonly client: string | null;
  readonly connectedAt: string;
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly filesUp: number;
  readonly filesDown: number;
}

interface HostView {
  readonly address: string;
  readonly score: number;
  readonly banned: boolean;
  readonly bannedUntil: string | null;
  readonly banCount: number;
  readonly lastReason: string;
}

const CONFIG = { permission: 'public' } as const;
const SESSION_COLUMNS: readonly Column[] = [
  { label: 'User', sort: 'user' },
  { label: 'From', sort: 'address' },
  { label: 'Protocol', sort: 'protocol' },
  { label: 'Client' },
  { label: 'Since (UTC)', sort: 'since' },
  { label: 'Up (bytes / files)', sort: 'up' },
  { label: 'Down', sort: 'down' },
  { label: 'Actions' },
];
const HIDDEN = { hide: true };

export function sessionsPage(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/sessions', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const sort = sortOf(queryOf(request), 'since');
    const answer = await api.get<{ items: SessionView[] }>(
      request,
      `/api/sessions?limit=1000&sort=${encodeURIComponent(sort)}`,
    );
    const items = answer.status === 200 ? answer.body.items : [];
    const rows = items.map(
      (
        s,
      ) => html`<tr><td>${s.username ?? '(signing in)'}</td><td>${s.remoteAddress}</td><td>${s.protocol}</td>
<td>${s.client ?? ''}</td><td><time datetime="${s.connectedAt}">${s.connectedAt.slice(0, 19).replace('T', ' ')}</time></td>
<td>${humanSize(s.bytesUp)} / ${s.filesUp}</td><td>${humanSize(s.bytesDown)} / ${s.filesDown}</td>
<td>${canChange(who) ? html`<form method="post" action="/console/sessions/${seg(s.id)}/kill" class="confirm" data-confirm="End ${s.username ?? 'this'} session from ${s.remoteAddress}?">${csrfField(who)}<button type="submit" class="danger">End</button></form>` : ''}</td></tr>`,
    );
    const body = html`<h1>Live sessions</h1>
${answer.status !== 200 ? html`<p class="error" role="alert">${answer.problem ?? 'cannot list sessions'}</p>` : ''}
${
  items.length === 0 && answer.status === 200
    ? html`<p class="empty">Nobody is connected.</p>`
    : html`<table class="list">${sortableHead('/console/sessions', SESSION_COLUMNS, sort, {})}
<tbody>${rows}</tbody></table>`
}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'Sessions', section: 'sessions', who, ...outcomeOf(who, queryOf(request)) },
          body,
        ),
      );
  });

  app.post('/console/sessions/:id/kill', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const { id } = request.params as { id: string };
    const answer = await api.send<{ username: string | null }>(
      request,
      'DELETE',
      `/api/sessions/${seg(id)}`,
      undefined,
      formOf(request)._csrf ?? '',
    );
    return backTo(
      reply,
      who,
      '/console/sessions',
      answer.status === 200
        ? { notice: `Ended the session of ${answer.body.username ?? 'an unauthenticated client'}.` }
        : { error: answer.problem ?? 'failed' },
    );
  });

  app.get('/console/defender', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const answer = await api.get<{ items: HostView[] }>(request, '/api/defender?limit=1000');
    const items = answer.status === 200 ? answer.body.items : [];
    const rows = items.map(
      (
        h,
      ) => html`<tr><td>${h.address}</td><td>${h.banned ? html`<span class="badge off">banned</span>` : 'scored'}</td>
<td>${h.score}</td><td>${h.bannedUntil ?? ''}</td><td>${h.banCount}</td><td>${h.lastReason}</td>
<td>${canChange(who) ? html`<form method="post" action="/console/defender/${seg(h.address)}/lift">${csrfField(who)}<button type="submit">${h.banned ? 'Lift ban' : 'Forget score'}</button></form>` : ''}</td></tr>`,
    );
    const body = html`<h1>Defender</h1>
<p>Addresses scored for failed logins and other offences; past the threshold they are banned for a while.
Addresses that are always refused or never banned: <a href="/console/defender/lists">the allow and deny lists</a>.</p>
${answer.status !== 200 ? html`<p class="error" role="alert">${answer.problem ?? 'cannot list'}</p>` : ''}
${
  items.length === 0 && answer.status === 200
    ? html`<p class="empty">No address is scored or banned.</p>`
    : html`<table class="list"><thead><tr><th>Address</th><th>State</th><th>Score</th><th>Banned until</th><th>Bans</th><th>Last reason</th><th>Actions</th></tr></thead>
<tbody>${rows}</tbody></table>`
}`;
    return reply
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'Defender', section: 'defender', who, ...outcomeOf(who, queryOf(request)) },
          body,
        ),
      );
  });

  app.post('/console/defender/:address/lift', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const { address } = request.params as { address: string };
    const answer = await api.send(
      request,
      'DELETE',
      `/api/defender/${seg(address)}`,
      undefined,
      formOf(request)._csrf ?? '',
    );
    return backTo(
      reply,
      who,
      '/console/defender',
      answer.status < 300 ? { notice: `Lifted ${address}.` } : { error: answer.problem ?? 'failed' },
    );
  });
}
