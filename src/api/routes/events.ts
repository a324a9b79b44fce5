// GET /api/events: live events of every worker process as Server-Sent Events for the console (docs/API.md).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LimitError } from '../../errors.js';
import { workerTaskId } from '../../util/worker-task-id.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { startEventFeed } from '../event-relay.js';
import { SseWriter } from '../sse-writer.js';

/** A comment line now and then keeps proxies from closing a quiet stream and lets a reader see the link is up. */
export const HEARTBEAT_MS = 15_000;
/** Open event streams per process, and per caller (an API key or console account) in a process. */
export const STREAM_LIMITS = { perProcess: 100, perCaller: 8 } as const;

export const eventRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { feed, ready, stop } = startEventFeed(deps.events);
    /** Open streams by caller, ended before the server closes (it would otherwise wait for them forever). */
    const open = new Map<SseWriter, string>();
    app.addHook('preClose', async () => {
      for (const writer of open.keys()) writer.end();
    });
    app.addHook('onClose', async () => stop());
    app.get(
      '/api/events',
      {
        config: { permission: 'events:read' },
        schema: {
          tags: ['events'],
          summary:
            'Server-Sent Events of what happens in every worker process: sessions, transfers, file operations, jobs, admin changes, bans',
          description:
            'Each event has an id; reconnect with `Last-Event-ID` to get what was missed (a `gap` notice when it is no longer held). A reader that falls behind gets an `overflow` notice and the stream ends. A comment line every 15 s is the heartbeat.',
          headers: z.object({
            'last-event-id': z.string().max(200).optional().describe('the id of the last event received'),
          }),
          produces: ['text/event-stream'],
          response: {
            200: z.string().meta({
              example:
                'id: k2Jx9aQb-41\nevent: admin\ndata: {"type":"admin","at":"2026-11-30T09:00:00.000Z","actor":{"kind":"api","name":"deploy"},"action":"users.add","subject":"alice"}\n\n',
            }),
            ...problemResponses,
            429: problemResponses[400],
          },
        },
      },
      async (request, reply) => {
        // Under --workers N a worker gets the other processes' events only while it has readers: the first one
        // waits for the primary's ring (event-relay.ts). Before the limits are counted: no await after them.
        await ready();
        const actor = request.principal?.actor;
        const caller = `${actor?.kind}:${actor?.name}`;
        let mine = 0;
        for (const who of open.values()) if (who === caller) mine++;
        if (open.size >= STREAM_LIMITS.perProcess)
          throw new LimitError(`too many open event streams on this server (${STREAM_LIMITS.perProcess})`);
        if (mine >= STREAM_LIMITS.perCaller)
          throw new LimitError(`too many open event streams for this caller (${STREAM_LIMITS.perCaller})`);
        // The stream outlives the handler: Fastify hands the socket over, headers are set here.
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
          connection: 'keep-alive',
        });
        let unsubscribe = () => {};
        const writer = new SseWriter(raw, () => {
          open.delete(writer);
          clearInterval(heartbeat);
          unsubscribe();
        });
        open.set(writer, caller);
        // The answering process, as /api/status tells it: which worker holds this stream.
        writer.send(`: ferry events, process ${workerTaskId}\n\n`);
        unsubscribe = feed.subscribe((message) => writer.send(message), request.headers['last-event-id']);
        // A replay bigger than the backlog already cut the reader: it must not stay subscribed.
        if (writer.ended) unsubscribe();
        const heartbeat = setInterval(() => writer.send(': heartbeat\n\n'), HEARTBEAT_MS);
        heartbeat.unref();
        request.raw.once('close', () => writer.end());
        raw.once('close', () => writer.end());
      },
    );
  };
