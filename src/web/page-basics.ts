// What every server-rendered page plugin (the web client, the console) installs: form bodies, the strict CSP and
// no caching on every answer, and the listener's rate-limit error as a plain 429 page.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { CONTENT_SECURITY_POLICY } from './html.js';

export function installPageBasics(app: FastifyInstance, formLimit: number): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: formLimit },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  });
}

/**
 * The listener's rate limits (api/rate-limit.ts) throw their own error: answered as a 429 page, not a server
 * failure. Returns undefined for any other error.
 */
export function rateLimitedPage(err: unknown, reply: FastifyReply): FastifyReply | undefined {
  const limited = err as { code?: unknown; headers?: Record<string, string> };
  if (limited.code !== 'ERR_RATE_LIMITED') return undefined;
  return reply
    .code(429)
    .headers(limited.headers ?? {})
    .type('text/plain')
    .send('Too many requests from this address; try again in a minute.');
}
