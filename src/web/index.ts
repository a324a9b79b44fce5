// The end-user web client at /files (the HTTPS protocol for SFTP users): one Fastify plugin the API server registers.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { WebClientDeps } from './deps.js';
import { failurePage, fileRoutes } from './file-routes.js';
import { loginRoutes } from './login-routes.js';
import { installPageBasics, rateLimitedPage } from './page-basics.js';
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

/** Adds each of this process' web transfers to its session's shared counters (GET /api/sessions shows them). */
function countTraffic(app: FastifyInstance, deps: WebClientDeps): void {
  const unsubscribe = deps.events.subscribe((event) => {
    if (event.type !== 'transfer' || event.protocol !== 'https' || !event.sessionId.startsWith('web-'))
      return undefined;
    const up = event.direction === 'upload';
    const files = event.completed ? 1 : 0;
    deps.webSessions
      .addTraffic(event.sessionId, {
        bytesUp: up ? event.bytes : 0,
        bytesDown: up ? 0 : event.bytes,
        filesUp: up ? files : 0,
        filesDown: up ? 0 : files,
      })
      .catch((err: unknown) =>
        deps.log.warn({ err, sessionId: event.sessionId }, 'web session counters not updated'),
      );
    return undefined;
  });
  app.addHook('onClose', async () => unsubscribe());
}

export const webClientRoutes =
  (deps: WebClientDeps): FastifyPluginAsync =>
  async (app: FastifyInstance) => {
    installPageBasics(app, FORM_LIMIT);
    app.setErrorHandler(async (err, request, reply) => {
      const limited = rateLimitedPage(err, reply);
      if (limited) return limited;
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
    countTraffic(app, deps);
    loginRoutes(app, deps);
    fileRoutes(app, deps);
    tusRoutes(app, deps);
  };
