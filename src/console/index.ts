// The administrators' console at /console: server-rendered pages over the REST API (called in-process with the
// browser's session cookie, so roles, validation and audit are the API's own), htmx for the live parts.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { html } from '../web/html.js';
import { installPageBasics, rateLimitedPage } from '../web/page-basics.js';
import { adminsPage } from './admins-page.js';
import { consoleApi } from './api-client.js';
import { apiKeysPage } from './apikeys-page.js';
import { auditPage } from './audit-page.js';
import { dashboardPage } from './dashboard-page.js';
import { defenderListsPage } from './defender-lists-page.js';
import { deliveriesPage } from './deliveries-page.js';
import { jobPage } from './job-page.js';
import { jobsPage } from './jobs-page.js';
import { keysPage } from './keys-page.js';
import { consolePage } from './layout.js';
import { loginRoutes } from './login-routes.js';
import { partnerHostKeyPage } from './partner-hostkey-page.js';
import { partnersPage } from './partners-page.js';
import { SignInRequired } from './request.js';
import { rulesPage } from './rules-page.js';
import { sessionsPage } from './sessions-page.js';
import { statusPage } from './status-page.js';
import { totpEnrolPages } from './totp-enrol.js';
import { userPage } from './user-page.js';
import { usersPage } from './users-page.js';

const require = createRequire(import.meta.url);
/** src/console and dist/console both sit two levels below the package. */
const OWN_ASSETS = join(import.meta.dirname, '..', '..', 'web-assets');
const HTMX_DIST = () => dirname(require.resolve('htmx.org/dist/htmx.min.js'));
const ASSETS: Record<string, { type: string; path: () => string }> = {
  'console.css': { type: 'text/css; charset=utf-8', path: () => join(OWN_ASSETS, 'console.css') },
  'console.js': { type: 'text/javascript; charset=utf-8', path: () => join(OWN_ASSETS, 'console.js') },
  'htmx.min.js': { type: 'text/javascript; charset=utf-8', path: () => join(HTMX_DIST(), 'htmx.min.js') },
};
/** Console forms are a few fields (public keys included). */
const FORM_LIMIT = 256 * 1024;

export const consoleRoutes = (): FastifyPluginAsync => async (app: FastifyInstance) => {
  const api = consoleApi(app);
  installPageBasics(app, FORM_LIMIT);
  app.setErrorHandler(async (err, request, reply) => {
    if (err instanceof SignInRequired) {
      // htmx swaps fragments: tell it to load the login page as a whole instead.
      if (request.headers['hx-request'] === 'true')
        return reply.code(401).header('hx-redirect', '/console/login?ended=1').send('');
      return reply.redirect('/console/login?ended=1', 303);
    }
    const limited = rateLimitedPage(err, reply);
    if (limited) return limited;
    request.log.error({ err, url: request.url }, 'console request failed');
    return reply
      .code(500)
      .type('text/html; charset=utf-8')
      .send(
        consolePage(
          { title: 'Error', section: '', error: 'The console failed; see the server log.' },
          html``,
        ),
      );
  });
  const cache = new Map<string, Buffer>();
  app.get(
    '/console/assets/:name',
    { config: { permission: 'public' }, schema: { hide: true } },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (asset === undefined) return reply.code(404).type('text/plain').send('Not found');
      let data = cache.get(name);
      if (data === undefined) {
        data = await readFile(asset.path());
        cache.set(name, data);
      }
      return reply.type(asset.type).header('cache-control', 'no-cache').send(data);
    },
  );
  loginRoutes(app, api);
  dashboardPage(app, api);
  usersPage(app, api);
  userPage(app, api);
  sessionsPage(app, api);
  defenderListsPage(app, api);
  auditPage(app, api);
  keysPage(app, api);
  adminsPage(app, api);
  apiKeysPage(app, api);
  statusPage(app, api);
  totpEnrolPages(app, api);
  partnersPage(app, api);
  partnerHostKeyPage(app, api);
  jobsPage(app, api);
  jobPage(app, api);
  rulesPage(app, api);
  deliveriesPage(app, api);
};
