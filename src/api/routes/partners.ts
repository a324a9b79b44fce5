// /api/partners: SFTP and FTPS servers jobs transfer with (create, change, pin the host key, remove); never their passwords.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ALGORITHM_PROFILES } from '../../config/schema.js';
import type { PartnerRecord } from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, pageQuerySchema, problemResponses } from '../deps.js';
import { parseSort, type SortKeys, sortedPage, sortParam } from '../sorting.js';

export const partnerSchema = z
  .object({
    name: z.string(),
    protocol: z.enum(['sftp', 'ftps', 'ftps-implicit']),
    host: z.string(),
    port: z.number().int(),
    username: z.string(),
    password: z.boolean(),
    clientKey: z.string().nullable(),
    hostKey: z.string().nullable().describe("'ALGORITHM FINGERPRINT'; FTPS: 'x509 AA:BB:...'"),
    caFile: z.string().nullable().describe('FTPS: CA file the certificate is verified against'),
    renameUploads: z.boolean(),
    readBack: z.boolean(),
    algorithms: z.enum(ALGORITHM_PROFILES),
    created: z.string(),
  })
  .meta({
    id: 'Partner',
    example: {
      name: 'acme',
      protocol: 'sftp',
      host: 'sftp.acme.example',
      port: 22,
      username: 'ferry',
      password: false,
      clientKey: 'acme-key',
      hostKey: 'ssh-ed25519 SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE',
      caFile: null,
      renameUploads: true,
      readBack: false,
      algorithms: 'modern',
      created: '2026-11-30T09:00:00.000Z',
    },
  });

const PARTNER_SORTS = ['name', 'host', 'protocol', 'created'] as const;
const PARTNER_SORT_KEYS: SortKeys<PartnerRecord, (typeof PARTNER_SORTS)[number]> = {
  name: (p) => p.name,
  host: (p) => p.host,
  protocol: (p) => p.protocol,
  created: (p) => p.createdAt.toISOString(),
};

function partnerView(p: PartnerRecord): z.infer<typeof partnerSchema> {
  return {
    name: p.name,
    protocol: p.protocol,
    host: p.host,
    port: p.port,
    username: p.username,
    password: p.passwordSealed !== null,
    clientKey: p.clientKey,
    hostKey: p.hostKeyAlgorithm && p.hostKeySha256 ? `${p.hostKeyAlgorithm} ${p.hostKeySha256}` : null,
    caFile: p.tlsCaFile,
    renameUploads: p.renameUploads,
    readBack: p.readBack,
    algorithms: p.algorithms,
    created: p.createdAt.toISOString(),
  };
}

const nameParams = z.object({ name: z.string().min(1).max(200) });
const port = z.number().int().min(1).max(65535);
const secret = (v: string | null | undefined) => (v === undefined || v === null ? v : new Secret(v));

const algorithmsField = z
  .enum(ALGORITHM_PROFILES)
  .describe(
    "SSH algorithms offered: 'modern' (default; post-quantum first, no SHA-1, CBC or DSA) or 'compat' (adds NIST ECDH and ECDSA host keys)",
  );

const createBody = z
  .object({
    name: z.string().min(1).max(200),
    protocol: z.enum(['sftp', 'ftps', 'ftps-implicit']).optional().describe('default sftp'),
    host: z.string().min(1),
    port: port.optional().describe('default 22, 21 (ftps) or 990 (ftps-implicit)'),
    user: z.string().min(1),
    password: z.string().min(1).max(1024).optional().describe('stored sealed with the master key'),
    clientKey: z.string().min(1).optional().describe('name of a client key in the Key Manager'),
    renameUploads: z.boolean().optional(),
    readBack: z.boolean().optional(),
    algorithms: algorithmsField.optional(),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe('FTPS: PEM CA file on the server (instead of a pinned certificate)'),
  })
  .strict()
  .meta({ example: { name: 'acme', host: 'sftp.acme.example', user: 'ferry', clientKey: 'acme-key' } });

const patchBody = z
  .object({
    host: z.string().min(1).optional(),
    port: port.optional(),
    user: z.string().min(1).optional(),
    password: z.string().min(1).max(1024).nullable().optional().describe('null removes it'),
    clientKey: z.string().min(1).nullable().optional().describe('null stops logging in with a key'),
    renameUploads: z.boolean().optional(),
    readBack: z.boolean().optional(),
    algorithms: algorithmsField.optional(),
    protocol: z.enum(['sftp', 'ftps', 'ftps-implicit']).optional(),
    caFile: z.string().min(1).nullable().optional().describe('null: pin the certificate instead'),
  })
  .strict()
  .meta({ example: { port: 2222, readBack: true } });

const trustBody = z
  .object({ algorithm: z.string().min(1), sha256: z.string().min(1) })
  .strict()
  .meta({
    example: { algorithm: 'ssh-ed25519', sha256: 'SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE' },
  });

const presentedSchema = z
  .object({
    algorithm: z.string().describe("SSH key algorithm; FTPS: 'x509'"),
    sha256: z.string().describe("'SHA256:...' as ssh-keygen prints it; FTPS: the certificate's 'AA:BB:...'"),
    pinned: z.string().nullable().describe('the fingerprint pinned now (null: none)'),
    matches: z.boolean().describe('the presented key is the pinned one'),
  })
  .meta({
    id: 'PresentedHostKey',
    example: {
      algorithm: 'ssh-ed25519',
      sha256: 'SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE',
      pinned: null,
      matches: false,
    },
  });

export const partnerRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const partners = deps.admin.partners;
    const write = { permission: 'partners:write' } as const;
    const tags = ['partners'];

    app.get(
      '/api/partners',
      {
        config: { permission: 'partners:read' },
        schema: {
          tags: ['partners'],
          summary: 'List partners (paginated; by name unless sorted otherwise)',
          querystring: pageQuerySchema.extend({ sort: sortParam(PARTNER_SORTS, 'name') }),
          response: { 200: pageOf(partnerSchema), ...problemResponses },
        },
      },
      async (request) => {
        const order = parseSort(request.query.sort, PARTNER_SORTS, 'name');
        const page = sortedPage(
          await deps.admin.partners.list(),
          PARTNER_SORT_KEYS,
          (p) => p.name,
          order,
          request.query,
        );
        return { items: page.items.map(partnerView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/api/partners/:name',
      {
        config: { permission: 'partners:read' },
        schema: {
          tags: ['partners'],
          summary: 'Show a partner',
          params: nameParams,
          response: { 200: partnerSchema, ...problemResponses },
        },
      },
      async (request) => partnerView(await deps.admin.partners.get(request.params.name)),
    );

    app.post(
      '/api/partners',
      {
        config: write,
        schema: {
          tags,
          summary: 'Add a partner (then pin its host key with /trust)',
          body: createBody,
          response: { 201: partnerSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const partner = await partners.add(actorOf(request), {
          ...b,
          password: secret(b.password) ?? undefined,
        });
        return reply.code(201).send(partnerView(partner));
      },
    );

    app.patch(
      '/api/partners/:name',
      {
        config: write,
        schema: {
          tags,
          summary: "Change a partner's address, login or options (a new host or port forgets the pinned key)",
          params: nameParams,
          body: patchBody,
          response: { 200: partnerSchema, ...problemResponses },
        },
      },
      async (request) => {
        const b = request.body;
        const partner = await partners.set(actorOf(request), {
          ...b,
          name: request.params.name,
          password: secret(b.password),
        });
        return partnerView(partner);
      },
    );

    // Connects as far as the key exchange (as `ferry partners trust` does before asking) and trusts nothing.
    app.get(
      '/api/partners/:name/hostkey',
      {
        config: { permission: 'partners:read' },
        schema: {
          tags,
          summary:
            "Fetch the host key (FTPS: certificate) the partner's server presents now, without trusting it",
          params: nameParams,
          response: { 200: presentedSchema, ...problemResponses },
        },
      },
      async (request) => {
        const partner = await partners.get(request.params.name);
        const key = await partners.presentedHostKey(partner.name);
        const pinned = partner.hostKeySha256 ?? null;
        return { algorithm: key.algorithm, sha256: key.sha256, pinned, matches: pinned === key.sha256 };
      },
    );

    app.post(
      '/api/partners/:name/trust',
      {
        config: write,
        schema: {
          tags,
          summary:
            "Pin the partner's host key (algorithm and SHA256 fingerprint, as ferry partners show-key prints)",
          params: nameParams,
          body: trustBody,
          response: { 200: partnerSchema, ...problemResponses },
        },
      },
      async (request) =>
        partnerView(await partners.trust(actorOf(request), { name: request.params.name, ...request.body })),
    );

    app.delete(
      '/api/partners/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Remove a partner',
          params: nameParams,
          response: { 204: z.null().describe('removed'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await partners.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
