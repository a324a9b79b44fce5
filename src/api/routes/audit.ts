// /api/audit: the trail with the CLI's filters (newest N, or paged forward by seq) and its verification.
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditQueryInput } from '../../admin/audit.js';
import { formatJsonLine } from '../../audit/query.js';
import { InvalidArgumentError } from '../../errors.js';
import { AUDIT_ACTIONS, type AuditRecord } from '../../store/types.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { parseSort, sortParam } from '../sorting.js';

const recordSchema = z
  .object({
    seq: z.number().int(),
    at: z.string(),
    action: z.string(),
    /** `kind:name` of an administrative change (`api:deploy`, `cli:alice`); null for other records. */
    actor: z.string().nullable(),
    user: z.string().nullable(),
    sessionId: z.string().nullable(),
    address: z.string().nullable(),
    protocol: z.string().nullable(),
    path: z.string().nullable(),
    target: z.string().nullable(),
    result: z.string(),
    reason: z.string().nullable(),
    detail: z.unknown(),
    hash: z.string(),
    /** The cluster node (`--node-id`) that wrote the record; null for CLI processes and older records. */
    node: z.string().nullable(),
  })
  .meta({
    id: 'AuditRecord',
    example: {
      seq: 42,
      at: '2026-11-30T09:12:01.123Z',
      action: 'admin',
      actor: 'api:deploy',
      user: 'deploy',
      sessionId: null,
      address: '127.0.0.1',
      protocol: 'api',
      path: null,
      target: 'alice',
      result: 'ok',
      reason: null,
      detail: { command: 'users add' },
      hash: '9f2c…',
      node: 'node-a',
    },
  });

function view(r: AuditRecord): z.infer<typeof recordSchema> {
  let detail: unknown = r.detail;
  try {
    detail = JSON.parse(r.detail);
  } catch {
    // Kept as the stored text: every stored byte is hashed, so it is shown as it is.
  }
  return {
    seq: r.seq,
    at: r.at,
    action: r.action,
    actor: r.action === 'admin' && r.protocol !== null && r.user !== null ? `${r.protocol}:${r.user}` : null,
    user: r.user,
    sessionId: r.sessionId,
    address: r.address,
    protocol: r.protocol,
    path: r.path,
    target: r.target,
    result: r.result,
    reason: r.reason,
    detail,
    hash: r.hash,
    node: r.node ?? null,
  };
}

const AUDIT_SORTS = ['seq'] as const;

const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).default(100).describe('records to return (1-10000)'),
  user: z.string().optional().describe('only records of this user (or admin actor name)'),
  action: z
    .string()
    .optional()
    .describe(`comma-separated actions: ${AUDIT_ACTIONS.join(', ')}`)
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const list = v.split(',').map((a) => a.trim());
      const bad = list.find((a) => !(AUDIT_ACTIONS as readonly string[]).includes(a));
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `unknown action '${bad}'` });
        return z.NEVER;
      }
      return list as (typeof AUDIT_ACTIONS)[number][];
    }),
  since: z.string().optional().describe('ISO date/time'),
  until: z.string().optional().describe('ISO date/time'),
  path: z.string().optional().describe('path glob: * and ? within a component, ** across'),
  afterSeq: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('page forward: records after this seq (the nextAfterSeq of the previous page)'),
  beforeSeq: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe('with sort=-seq, page back: records before this seq (the nextBeforeSeq of the previous page)'),
  sort: sortParam(AUDIT_SORTS, 'seq').describe(
    'seq: oldest first from the start of the trail, paged with afterSeq; -seq: newest first, paged with beforeSeq; without it, the newest `limit` oldest first (or with afterSeq, the next `limit`)',
  ),
});

/**
 * The newest `limit` matching records, oldest first. Read backwards from the head in windows of the chain, each
 * four times the last, so a first page over a million records costs about its own size when recent records match,
 * instead of a scan of the whole trail; each window keeps only the newest records it still needs.
 */
async function newestRecords(
  audit: ApiDeps['admin']['audit'],
  filter: Omit<AuditQueryInput, 'afterSeq' | 'throughSeq'>,
  limit: number,
  /** Only records before this seq (newest-first paging). */
  beforeSeq?: number,
): Promise<AuditRecord[]> {
  const head = (await audit.tail(1))[0]?.seq ?? 0;
  let through = beforeSeq === undefined ? head : Math.min(head, beforeSeq - 1);
  let width = 2 * limit;
  let found: AuditRecord[] = [];
  while (through > 0 && found.length < limit) {
    const after = Math.max(0, through - width);
    const need = limit - found.length;
    const window: AuditRecord[] = [];
    for await (const record of audit.query({ ...filter, afterSeq: after, throughSeq: through })) {
      window.push(record);
      // Trimmed in bulk (amortised O(1) per record).
      if (window.length >= 2 * need) window.splice(0, window.length - need);
    }
    found = window.slice(-need).concat(found);
    through = after;
    width *= 4;
  }
  return found;
}

export const auditRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const audit = deps.admin.audit;
    const config = { permission: 'audit:read' } as const;
    const tags = ['audit'];

    app.get(
      '/api/audit',
      {
        config,
        schema: {
          tags,
          summary:
            'Audit records: the newest `limit` matching ones, or with afterSeq the next `limit`, oldest first; sort=seq from the oldest, sort=-seq newest first',
          querystring: auditQuery,
          response: {
            200: z
              .object({
                items: z.array(recordSchema),
                nextAfterSeq: z.number().int().nullable(),
                nextBeforeSeq: z
                  .number()
                  .int()
                  .nullable()
                  .optional()
                  .describe('sort=-seq: the beforeSeq of the next (older) page; null at the oldest'),
              })
              .meta({ example: { items: [], nextAfterSeq: null } }),
            ...problemResponses,
          },
        },
      },
      async (request) => {
        const q = request.query;
        const filter = { user: q.user, actions: q.action, since: q.since, until: q.until, pathGlob: q.path };
        const order = q.sort === undefined ? undefined : parseSort(q.sort, AUDIT_SORTS, 'seq');
        if (q.beforeSeq !== undefined && order?.descending !== true)
          throw new InvalidArgumentError('beforeSeq: only with sort=-seq (use afterSeq to page forward)');
        if (order?.descending === true) {
          if (q.afterSeq !== undefined)
            throw new InvalidArgumentError('afterSeq: not with sort=-seq (use beforeSeq to page back)');
          // Newest first: one more than the page tells whether older records remain.
          const found = (await newestRecords(audit, filter, q.limit + 1, q.beforeSeq)).reverse();
          const items = found.slice(0, q.limit);
          return {
            items: items.map(view),
            nextAfterSeq: null,
            nextBeforeSeq: found.length > q.limit ? (items.at(-1)?.seq ?? null) : null,
          };
        }
        if (q.afterSeq === undefined && order === undefined)
          return { items: (await newestRecords(audit, filter, q.limit)).map(view), nextAfterSeq: null };
        // Forward paging: the first `limit` after the cursor, and whether another exists.
        const items: AuditRecord[] = [];
        let more = false;
        for await (const record of audit.query({ ...filter, afterSeq: q.afterSeq ?? 0 })) {
          if (items.length === q.limit) {
            more = true;
            break;
          }
          items.push(record);
        }
        return { items: items.map(view), nextAfterSeq: more ? (items.at(-1)?.seq ?? null) : null };
      },
    );

    app.get(
      '/api/audit/export',
      {
        config,
        schema: {
          tags,
          summary:
            'Stream a contiguous range of the chain as NDJSON (host key lines, then records): `ferry audit verify --file` checks it offline',
          produces: ['application/x-ndjson'],
          querystring: z.object({
            since: z.string().optional().describe('from the first record at or after this ISO date/time'),
            until: z.string().optional().describe('up to the last record before this ISO date/time'),
          }),
          response: {
            200: z.string().describe('one JSON object per line').meta({
              example:
                '{"hostKey":"ssh-ed25519 AAAAC3Nz…","sha256":"SHA256:…","id":1,"active":true,"retiredAt":null}\n{"seq":1,"at":"2026-11-30T09:00:00.000Z","action":"admin",…}\n',
            }),
            ...problemResponses,
          },
        },
      },
      async (request, reply) => {
        const { hostKeys, records } = await audit.export(request.query);
        // Streamed: an export of millions of records never sits in memory, and a slow reader slows the reads.
        async function* lines() {
          for (const k of hostKeys) yield `${JSON.stringify(k)}\n`;
          for await (const r of records) yield `${formatJsonLine(r)}\n`;
        }
        return (
          reply
            .type('application/x-ndjson')
            .header('content-disposition', 'attachment; filename="ferry-audit.jsonl"')
            // The schema documents the lines; Fastify sends a stream as it is (no serializer), which the types cannot say.
            .send(Readable.from(lines()) as unknown as string)
        );
      },
    );

    app.get(
      '/api/audit/verify',
      {
        config,
        schema: {
          tags,
          summary: "Walk the stored hash chain and check its checkpoints' signatures",
          response: {
            200: z
              .object({ ok: z.boolean(), records: z.number().int() })
              .loose()
              .meta({ example: { ok: true, records: 1234, checkpoints: 2, signedCheckpoints: 2 } }),
            ...problemResponses,
          },
        },
      },
      async () => {
        const report = await audit.verify({ checkpointInterval: deps.config.auditCheckpointInterval });
        // Plain JSON (the report holds Dates and nested records).
        return JSON.parse(JSON.stringify(report)) as { ok: boolean; records: number };
      },
    );
  };
