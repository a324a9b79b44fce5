// TOTP enrolment with a QR code: /console/totp for the signed-in administrator, /console/users/{name}/totp for an
// SFTP user. The API drafts a secret (nothing stored), the page shows it as a QR code and as text, and the API
// stores it once a current code from the app confirms it; the recovery codes are shown on that answer only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Html, html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { type ConsoleWho, consolePage, csrfField } from './layout.js';
import { qrSvg } from './qr-svg.js';
import { backTo, formOf, outcomeOf, queryOf, seg, whoIs } from './request.js';

interface Draft {
  readonly name: string;
  readonly secret: string;
  readonly uri: string;
}

const CONFIG = { permission: 'public' } as const;
const HIDDEN = { hide: true };

/** Where one enrolment's forms post, and whose it is. */
interface Target {
  readonly self: boolean;
  readonly name: string;
  /** /console/totp or /console/users/{name}/totp */
  readonly base: string;
  /** The API's draft and enrol URLs. */
  readonly api: string;
}

const selfTarget = (who: ConsoleWho): Target => ({
  self: true,
  name: who.name,
  base: '/console/totp',
  api: '/api/session/totp',
});
const userTarget = (name: string): Target => ({
  self: false,
  name,
  base: `/console/users/${seg(name)}/totp`,
  api: `/api/users/${seg(name)}/totp`,
});

const send = (reply: FastifyReply, page: string, code = 200) =>
  reply.code(code).type('text/html; charset=utf-8').send(page);

function startPage(who: ConsoleWho, t: Target, outcome: { notice?: string; error?: string }): string {
  const intro = t.self
    ? html`<p>With TOTP on, signing in to the console asks for a one-time code from an authenticator app besides your password. Enrolling (again) replaces any earlier secret and ends your console sessions: you then sign in with your password and a code.</p>`
    : html`<p>With TOTP on, <strong>${t.name}</strong> is asked for a one-time code after their other sign-in factors (SFTP keyboard-interactive, and the web client). Enrolling again replaces the earlier secret.</p>`;
  // An auditor reads only (the API refuses users:write anyway): no buttons for another account.
  if (!t.self && who.role === 'auditor')
    return consolePage(
      { title: 'Two-factor sign-in', section: 'users', who, ...outcome },
      html`<h1>Two-factor sign-in for ${t.name}</h1>${intro}<p class="empty">Your role cannot change users.</p>`,
    );
  const remove = t.self
    ? ''
    : html`<form method="post" action="${t.base}/remove" class="confirm" data-confirm="Remove the TOTP secret of ${t.name}? Their logins go back to the factors from before.">${csrfField(who)}
  <button type="submit" class="danger">Remove TOTP</button></form>`;
  return consolePage(
    { title: 'Two-factor sign-in', section: t.self ? 'totp' : 'users', who, ...outcome },
    html`<h1>Two-factor sign-in ${t.self ? '' : html`for ${t.name}`}</h1>${intro}
<form method="post" action="${t.base}/draft">${csrfField(who)}<button type="submit">Show a new QR code</button></form>${remove}`,
  );
}

async function confirmPage(who: ConsoleWho, t: Target, draft: Draft, error?: string): Promise<string> {
  return consolePage(
    { title: 'Two-factor sign-in', section: t.self ? 'totp' : 'users', who, error },
    html`<h1>Scan the QR code ${t.self ? '' : html`for ${t.name}`}</h1>
<div class="totp">
<figure>${await qrSvg(draft.uri, `QR code of the TOTP secret for ${draft.name}`)}</figure>
<div><p>Scan it with an authenticator app, or type the secret into it:</p>
<p><code class="secret" id="totp-secret">${draft.secret}</code></p>
<p class="hint">Nothing is stored until a current code from the app confirms it.</p></div></div>
<form method="post" action="${t.base}/confirm" class="login">${csrfField(who)}
  <input type="hidden" name="secret" value="${draft.secret}"><input type="hidden" name="uri" value="${draft.uri}">
  ${t.self ? html`<label for="password">Your password</label><input id="password" name="password" type="password" autocomplete="current-password" required>` : ''}
  <label for="code">Current code from the app</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9]{6}" maxlength="6">
  <button type="submit">Confirm</button></form>`,
  );
}

function donePage(who: ConsoleWho | undefined, t: Target, recoveryCodes: readonly string[]): string {
  const next: Html = t.self
    ? html`<p>Your console sessions have ended. <a href="/console/login">Sign in again</a> with your password and a code.</p>`
    : html`<p><a href="/console/users">Back to the users</a></p>`;
  return consolePage(
    {
      title: 'Two-factor sign-in',
      section: t.self ? 'totp' : 'users',
      who,
      notice: `TOTP is on for ${t.name}.`,
    },
    html`<h1>Recovery codes</h1>
<p>Each works once instead of a code. They are shown only now: keep them somewhere safe.</p>
<ul class="recovery">${recoveryCodes.map((c) => html`<li><code>${c}</code></li>`)}</ul>${next}`,
  );
}

export function totpEnrolPages(app: FastifyInstance, api: ConsoleApi): void {
  const routes = (path: string, target: (who: ConsoleWho, request: FastifyRequest) => Target) => {
    app.get(path, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
      const who = await whoIs(api, request);
      return send(reply, startPage(who, target(who, request), outcomeOf(who, queryOf(request))));
    });

    app.post(`${path}/draft`, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
      const who = await whoIs(api, request);
      const t = target(who, request);
      const answer = await api.send<Draft>(
        request,
        'POST',
        `${t.api}/draft`,
        undefined,
        formOf(request)._csrf ?? '',
      );
      if (answer.status !== 200) return backTo(reply, who, t.base, { error: answer.problem ?? 'failed' });
      return send(reply, await confirmPage(who, t, answer.body));
    });

    app.post(`${path}/confirm`, { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
      const who = await whoIs(api, request);
      const t = target(who, request);
      const form = formOf(request);
      const body: Record<string, string> = { secret: form.secret ?? '', code: (form.code ?? '').trim() };
      if (t.self) body.password = form.password ?? '';
      const answer = await api.send<{ recoveryCodes: string[] }>(
        request,
        'POST',
        t.api,
        body,
        form._csrf ?? '',
      );
      if (answer.status !== 200) {
        // The draft is still good (nothing was stored): the same QR code again, with the API's reason.
        const draft = { name: t.name, secret: form.secret ?? '', uri: form.uri ?? '' };
        return send(reply, await confirmPage(who, t, draft, answer.problem ?? 'failed'), answer.status);
      }
      if (t.self && answer.setCookie !== undefined) reply.header('set-cookie', answer.setCookie);
      return send(reply, donePage(t.self ? undefined : who, t, answer.body.recoveryCodes));
    });
  };
  routes('/console/totp', (who) => selfTarget(who));
  routes('/console/users/:name/totp', (_who, request) =>
    userTarget((request.params as { name: string }).name),
  );

  app.post('/console/users/:name/totp/remove', { config: CONFIG, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const t = userTarget((request.params as { name: string }).name);
    const answer = await api.send(request, 'DELETE', t.api, undefined, formOf(request)._csrf ?? '');
    return backTo(
      reply,
      who,
      t.base,
      answer.status < 300
        ? { notice: `Removed the TOTP secret of ${t.name}.` }
        : { error: answer.problem ?? 'failed' },
    );
  });
}
