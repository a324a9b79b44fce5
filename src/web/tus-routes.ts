// The tus endpoint (/files/tus): @tus/server over CoreTusStore, run inside the signed-in user's request.
import type { Server } from '@tus/server';
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../errors.js';
import type { WebClientDeps } from './deps.js';
import { webFailure } from './errors.js';
import { openFiles, requireUser, userOf } from './request-user.js';
import { targetOf, tusRequest, uploadId } from './tus-ids.js';

export const TUS_PATH = '/files/tus';

/** The tus server, built on the first upload request: @tus/server adds ~4 MB RSS to a worker that already loaded Fastify, and its modules take a moment to load. */
async function buildTus(deps: WebClientDeps): Promise<Server> {
  const [{ Server }, { CoreTusStore }] = await Promise.all([import('@tus/server'), import('./tus-store.js')]);
  return new Server({
    path: TUS_PATH,
    datastore: new CoreTusStore(),
    relativeLocation: true,
    respectForwardedHeaders: false,
    ...(deps.maxFileSize > 0 ? { maxSize: deps.maxFileSize } : {}),
    namingFunction: (req, metadata) => {
      if (deps.uploadMode === 'direct')
        throw new FerryError('ERR_UNSUPPORTED', 'Resumable uploads need uploadMode atomic (the default).');
      const length = Number(req.headers.get('upload-length'));
      if (!Number.isSafeInteger(length) || length < 0)
        throw new FerryError('ERR_INVALID_ARGUMENT', 'Upload-Length is required (no deferred length).');
      return uploadId(targetOf(metadata), length);
    },
    onResponseError: (_req, err) => {
      if (!(err instanceof Error)) return undefined;
      const failure = webFailure(err);
      if (failure.status >= 500) deps.log.error({ err }, 'web upload failed');
      return { status_code: failure.status, body: `${failure.message}\n` };
    },
  });
}

export function tusRoutes(app: FastifyInstance, deps: WebClientDeps): void {
  let tus: Promise<Server> | undefined;
  // tus bodies are streamed to the store as they arrive: Fastify must not read (or limit) them.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));
  const handle = {
    config: { permission: 'public' as const },
    schema: { hide: true },
    preHandler: requireUser(deps, 'api'),
  };
  for (const url of [TUS_PATH, `${TUS_PATH}/*`]) {
    app.route({
      method: ['POST', 'HEAD', 'PATCH'],
      url,
      ...handle,
      handler: async (request, reply) => {
        let server: Server;
        try {
          tus ??= buildTus(deps);
          server = await tus;
        } catch (err) {
          // Answered by Fastify's error handler (the reply is not hijacked yet); the next upload tries again.
          tus = undefined;
          deps.log.error({ err }, 'the tus server could not load');
          throw new FerryError('ERR_IO', 'Uploads are unavailable');
        }
        reply.hijack();
        const store = { open: () => openFiles(deps, request), permissions: userOf(request).user.permissions };
        await tusRequest.run(store, () => server.handle(request.raw, reply.raw));
      },
    });
  }
}
