// /console/login and /console/logout: the API's console session (POST /api/login, /api/logout) behind a form.
import type { FastifyInstance } from 'fastify';
import { html } from '../web/html.js';
import type { ConsoleApi } from './api-client.js';
import { consolePage } from './layout.js';
import { formOf, queryOf, whoIs } from './request.js';

const PUBLIC = { permission: 'public' } as const;
const HIDDEN = { hide: true };

function loginPage(error?: string, name = ''): string {
  return consolePage(
    { title: 'Sign in', section: 'login', error },
    html`<h1>Sign in to the Ferry console</h1>
<form class="login" method="post" action="/console/login">
  <label for="name">Administrator</label><input id="name" name="name" autocomplete="username" required value="${name}">
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <label for="code">One-time code <span class="hint">(if your account has one)</span></label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code">
  <button type="submit">Sign in</button>
</form>`,
  );
}

export function loginRoutes(app: FastifyInstance, api: ConsoleApi): void {
  app.get('/console/login', { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
    const ended = queryOf(request).ended === '1' ? 'Your session ended; sign in again.' : undefined;
    return reply.type('text/html; charset=utf-8').send(loginPage(ended));
  });

  app.post('/console/login', { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
    const form = formOf(request);
    const body: Record<string, string> = { name: form.name ?? '', password: form.password ?? '' };
    if (form.code) body.code = form.code;
    const answer = await api.send(request, 'POST', '/api/login', body, '');
    if (answer.status !== 200 || answer.setCookie === undefined) {
      // The API's message as it is: one answer for a wrong name, password or code; 429 when rate-limited.
      return reply
        .code(answer.status === 429 ? 429 : 401)
        .type('text/html; charset=utf-8')
        .send(loginPage(answer.problem ?? 'sign-in failed', form.name ?? ''));
    }
    reply.header('set-cookie', answer.setCookie);
    return reply.redirect('/console/', 303);
  });

  app.post('/console/logout', { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
    const who = await whoIs(api, request);
    const answer = await api.send(request, 'POST', '/api/logout', undefined, formOf(request)._csrf ?? '');
    if (answer.setCookie !== undefined) reply.header('set-cookie', answer.setCookie);
    if (answer.status >= 400)
      return reply
        .code(answer.status)
        .type('text/html; charset=utf-8')
        .send(consolePage({ title: 'Log out', section: '', who, error: answer.problem }, html``));
    return reply.redirect('/console/login', 303);
  });
}
