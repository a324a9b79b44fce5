// GET /api/events: live events as Server-Sent Events for the console (this process' events, as they happen).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { FerryEvent } from '../../events/types.js';
import { type ApiDeps, problemResponses } from '../deps.js';

/** A comment line now and then keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;
/** Events held for a slow reader; beyond it the oldest are dropped (and logged by the bus). */
const MAX_QUEUE = 1000;

/** One SSE message: the event's type as its name, the event as JSON (dates as ISO strings). */
export function sseMessage(event: FerryEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

export const eventRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    let streams = 0;
    /** Open streams, ended before the server closes (it would otherwise wait for them forever). */
    const open = new Set<() => void>();
    app.addHook('preClose', async () => {
      for (const end of open) end();
    });
    app.get(
      '/api/events',
      {
        config: { permission: 'events:read' },
        schema: {
          tags: ['events'],
          summary:
            'Server-Sent Events of what happens in the answering process: sessions, transfers, file operations, jobs, admin changes, bans',
          produces: ['text/event-stream'],
          response: {
            200: z.string().meta({
              example:
                'event: admin\ndata: {"type":"admin","at":"2026-11-30T09:00:00.000Z","actor":{"kind":"api","name":"deploy"},"action":"users.add","subject":"alice"}\n\n',
            }),
            ...problemResponses,
          },
        },
      },
      async (request, reply) => {
        // The stream outlives the handler: Fastify hands the socket over, headers are set here.
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          connection: 'keep-alive',
        });
        raw.write(': ferry events\n\n');
        const unsubscribe = deps.events.subscribeQueued(
          (event) => {
            raw.write(sseMessage(event));
          },
          { name: `sse-${++streams}`, maxQueue: MAX_QUEUE },
        );
        const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
        keepalive.unref();
        const end = () => {
          if (!open.delete(end)) return;
          clearInterval(keepalive);
          unsubscribe();
          raw.end();
        };
        open.add(end);
        request.raw.once('close', end);
      },
    );
  };
