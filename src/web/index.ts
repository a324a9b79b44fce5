// The end-user web client at /files (the HTTPS protocol for SFTP users): one Fastify plugin the API server registers.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { WebClientDeps } from './deps.js';
import { failurePage, fileRoutes } from './file-routes.js';
import { CONTENT_SECURITY_POLICY } from './html.js';
import { loginRoutes } from './login-routes.js';
import { tusRoutes } from './tus-routes.js';

export type { WebClientDeps } from './deps.js';

/** Served files: the client's script and style (src/web and dist/web both sit two levels below the package). */
const ASSETS_DIR = join(import.meta.dirname, '..', '..', 'web-assets');
const ASSETS: Record<string, string> = {
  'files.js': 'text/javascript; charset=utf-8',
  'files.css': 'text/css; charset=utf-8',
};
/** Form bodies are a few fields; uploads go through tus, never a form. */
const FORM_LIMIT = 64 * 1024;

export const webClientRoutes =
  (deps: WebClientDeps): FastifyPluginAsync =>
  async (app: FastifyInstance) => {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: FORM_LIMIT },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    app.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    });
    app.setErrorHandler(async (err, request, reply) => {
      // The listener's rate limits (api/rate-limit.ts) throw their own error: a 429 page, not a server failure.
      const limited = err as { code?: unknown; headers?: Record<string, string> };
      if (limited.code === 'ERR_RATE_LIMITED')
        return reply
          .code(429)
          .headers(limited.headers ?? {})
          .type('text/plain')
          .send('Too many requests from this address; try again in a minute.');
      const { status, body } = failurePage(request.filesUser, err);
      if (status >= 500) deps.log.error({ err, url: request.url }, 'web client request failed');
      return reply.code(status).type('text/html; charset=utf-8').send(body);
    });
    const assets = new Map<string, Buffer>();
    app.get(
      '/files/assets/:name',
      { config: { permission: 'public' }, schema: { hide: true } },
      async (request, reply) => {
        const { name } = request.params as { name: string };
        const type = ASSETS[name];
        if (type === undefined) return reply.code(404).type('text/plain').send('Not found');
        let data = assets.get(name);
        if (data === undefined) {
          data = await readFile(join(ASSETS_DIR, name));
          assets.set(name, data);
        }
        return reply.type(type).header('cache-control', 'no-cache').send(data);
      },
    );
    loginRoutes(app, deps);
    fileRoutes(app, deps);
    tusRoutes(app, deps);
  };
