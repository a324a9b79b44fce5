// What the API's routes use: the admin services and the process' parts (given by server.ts), plus shared schemas.
import { z } from 'zod';
import type { ClusterSessions } from '../admin/cluster-sessions.js';
import type { AdminServices } from '../admin/index.js';
import type { Defender } from '../auth/defender.js';
import type { FerryConfig } from '../config/schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import type { HealthState } from '../health.js';
import type { Store } from '../store/types.js';
import type { GatherKind } from './cluster-gather.js';
import { problemSchema } from './errors.js';
import type { LiveSessions, SessionActivitySource } from './live-sessions.js';
import type { FerryMetrics } from './metrics.js';

/** A listener this process serves (SFTP, HTTP), for /readyz and the status. */
export interface ListenerInfo {
  readonly name: string;
  readonly address: string;
  readonly port: number;
}

export interface ApiDeps {
  readonly config: FerryConfig;
  readonly admin: AdminServices;
  readonly store: Store;
  readonly events: EventBus;
  readonly defender: Defender;
  readonly health: HealthState;
  readonly sessions: LiveSessions;
  readonly metrics: FerryMetrics;
  /** The listeners bound so far (read per request). */
  readonly listeners: () => readonly ListenerInfo[];
  readonly version: string;
  readonly startedAt: Date;
  /** Under `serve --workers N`: every worker's part of the metrics or sessions (cluster-gather.ts). */
  readonly gather: ((kind: GatherKind, arg?: string) => Promise<unknown[]>) | undefined;
  /** Ends an SSH connection this process holds (the SSH server's disconnect); false when it holds none. */
  readonly disconnect: ((sessionId: string) => boolean) | undefined;
  /** What an open connection is transferring now (the FTPS server's view), for GET /api/sessions. */
  readonly sessionActivity?: SessionActivitySource;
  /** Cluster mode: this node's id and every node's sessions through the store (absent in tests without one). */
  readonly cluster?: ApiCluster | undefined;
}

/** What the API asks of cluster mode's shared sessions (admin/cluster-sessions.ts). */
export interface ApiCluster {
  readonly nodeId: string;
  readonly sessions: Pick<ClusterSessions, 'list' | 'kill'>;
}

/** The error responses every authenticated route may give, documented once. */
export const problemResponses = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
} as const;

export const pageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .describe('items per page (1-1000)')
    .meta({ example: 50 }),
  cursor: z
    .string()
    .max(400)
    .optional()
    .describe('nextCursor of the previous page')
    .meta({ example: 'YWxpY2U' }),
});

/** The `search` filter of a list: only items whose name contains the text. */
export const nameSearch = z
  .string()
  .max(200)
  .optional()
  .describe('only items whose name contains this text (any case)')
  .meta({ example: 'ac' });

/** A list filter's text match: no text matches everything; otherwise a case-insensitive substring. */
export function contains(value: string, search: string | undefined): boolean {
  return search === undefined || search === '' || value.toLowerCase().includes(search.toLowerCase());
}

/** The cursor is the last name of the previous page, opaque to clients (base64url). */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  query: { limit: number; cursor?: string | undefined },
): { items: T[]; nextCursor: string | null } {
  let after: string | undefined;
  if (query.cursor !== undefined) {
    after = Buffer.from(query.cursor, 'base64url').toString('utf8');
    if (after.length === 0) throw new InvalidArgumentError('cursor: not a cursor this API returned');
  }
  const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((item) => keyOf(item) > after);
  const page = rest.slice(0, query.limit);
  const last = page.at(-1);
  const nextCursor =
    rest.length > query.limit && last !== undefined
      ? Buffer.from(keyOf(last), 'utf8').toString('base64url')
      : null;
  return { items: page, nextCursor };
}

/** A page of items; its example is one item's (from the item schema's meta) and no next page. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z
    .object({ items: z.array(item), nextCursor: z.string().nullable() })
    .meta({ example: { items: [item.meta()?.example].filter(Boolean), nextCursor: null } });

/** A list without pages (small collections: live sessions, keys, admins). */
export const listOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item) }).meta({ example: { items: [item.meta()?.example].filter(Boolean) } });
