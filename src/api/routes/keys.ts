// /api/keys: host, client and OpenPGP keys: public halves and lifecycles only; private halves never leave over HTTP.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicKeyLine } from '../../admin/keys.js';
import { SSH_KEY_TYPES } from '../../admin/user-inputs.js';
import type { HostKeyRecord, PgpKeyRecord, StoredKeyPair } from '../../store/types.js';
import { actorOf } from '../auth.js';
import {
  type ApiDeps,
  contains,
  listOf,
  nameSearch,
  pageOf,
  pageQuerySchema,
  paginate,
  problemResponses,
} from '../deps.js';

const EXAMPLE_LINE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ferry';

const sshKeySchema = z.object({
  algorithm: z.string(),
  bits: z.number().int(),
  sha256: z.string(),
  publicKey: z.string().describe('the authorized_keys / known_hosts line'),
  created: z.string(),
});

export const hostKeySchema = sshKeySchema
  .extend({
    id: z.number().int(),
    state: z.enum(['pending', 'active', 'retired']),
    activated: z.string().nullable(),
    retired: z.string().nullable(),
  })
  .meta({
    id: 'HostKey',
    example: {
      id: 1,
      algorithm: 'ssh-ed25519',
      bits: 256,
      sha256: 'SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE',
      publicKey: EXAMPLE_LINE,
      created: '2026-11-30T09:00:00.000Z',
      state: 'active',
      activated: '2026-11-30T09:00:00.000Z',
      retired: null,
    },
  });

export const clientKeySchema = sshKeySchema.extend({ name: z.string() }).meta({
  id: 'ClientKey',
  example: {
    name: 'acme-key',
    algorithm: 'ssh-ed25519',
    bits: 256,
    sha256: 'SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE',
    publicKey: EXAMPLE_LINE,
    created: '2026-11-30T09:00:00.000Z',
  },
});

export const pgpKeySchema = z
  .object({
    name: z.string(),
    fingerprint: z.string(),
    userIds: z.array(z.string()).readonly(),
    algorithm: z.string(),
    hasPrivate: z.boolean(),
    created: z.string(),
    expires: z.string().nullable(),
    publicKey: z.string().describe('ASCII-armored public key'),
  })
  .meta({
    id: 'PgpKey',
    example: {
      name: 'vault',
      fingerprint: '3F2A9C0D1E4B5A6978C1D2E3F4A5B6C7D8E9F0A1',
      userIds: ['Ferry <ferry@example.com>'],
      algorithm: 'curve25519',
      hasPrivate: true,
      created: '2026-11-30T09:00:00.000Z',
      expires: null,
      publicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n…\n-----END PGP PUBLIC KEY BLOCK-----\n',
    },
  });

export const sshView = (k: StoredKeyPair) => ({
  algorithm: k.algorithm,
  bits: k.bits,
  sha256: k.sha256,
  publicKey: publicKeyLine(k),
  created: k.createdAt.toISOString(),
});

export const hostView = (k: HostKeyRecord): z.infer<typeof hostKeySchema> => ({
  ...sshView(k),
  id: k.id,
  state: k.state,
  activated: k.activatedAt?.toISOString() ?? null,
  retired: k.retiredAt?.toISOString() ?? null,
});

export const pgpView = (k: PgpKeyRecord): z.infer<typeof pgpKeySchema> => ({
  name: k.name,
  fingerprint: k.fingerprint,
  userIds: k.userIds,
  algorithm: k.algorithm,
  hasPrivate: k.privateSealed !== null,
  created: k.createdAt.toISOString(),
  expires: k.expiresAt?.toISOString() ?? null,
  publicKey: k.publicArmored,
});

const idParams = z.object({ id: z.coerce.number().int().min(1) });

const algorithmFilter = z
  .string()
  .max(64)
  .optional()
  .describe('only keys of this algorithm (ssh-ed25519, rsa-sha2-512, …)')
  .meta({ example: 'ssh-ed25519' });

/** Host keys page by id (oldest first): zero-padded so the cursor's text order is the ids' order. */
const idKey = (id: number) => String(id).padStart(16, '0');

export const keyRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const keys = deps.admin.keys;
    const read = { permission: 'keys:read' } as const;
    const write = { permission: 'keys:write' } as const;
    const tags = ['keys'];

    app.get(
      '/api/keys/host',
      {
        config: read,
        schema: {
          tags,
          summary: 'Host keys (pending, active, retired) with their public halves, oldest first (paginated)',
          querystring: pageQuerySchema.extend({
            state: z
              .enum(['pending', 'active', 'retired'])
              .optional()
              .describe('only keys in this state')
              .meta({ example: 'active' }),
            algorithm: algorithmFilter,
          }),
          response: { 200: pageOf(hostKeySchema), ...problemResponses },
        },
      },
      async (request) => {
        const { state, algorithm } = request.query;
        const found = (await keys.host.list()).filter(
          (k) =>
            (state === undefined || k.state === state) &&
            (algorithm === undefined || k.algorithm === algorithm),
        );
        const page = paginate(found, (k) => idKey(k.id), request.query);
        return { items: page.items.map(hostView), nextCursor: page.nextCursor };
      },
    );

    app.post(
      '/api/keys/host',
      {
        config: write,
        schema: {
          tags,
          summary: 'Generate a host key; it is announced (pending) until promoted',
          body: z
            .object({ type: z.enum(SSH_KEY_TYPES), bits: z.number().int().optional() })
            .strict()
            .meta({ example: { type: 'ed25519' } }),
          response: { 201: hostKeySchema, ...problemResponses },
        },
      },
      async (request, reply) =>
        reply.code(201).send(hostView(await keys.host.generate(actorOf(request), request.body))),
    );

    app.post(
      '/api/keys/host/:id/promote',
      {
        config: write,
        schema: {
          tags,
          summary: 'Make a pending host key active (presented to clients)',
          params: idParams,
          response: { 200: hostKeySchema, ...problemResponses },
        },
      },
      async (request) => hostView((await keys.host.promote(actorOf(request), request.params.id)).key),
    );

    app.post(
      '/api/keys/host/:id/retire',
      {
        config: write,
        schema: {
          tags,
          summary: 'Retire a host key (no longer presented or announced)',
          params: idParams,
          response: { 200: listOf(hostKeySchema), ...problemResponses },
        },
      },
      async (request) => ({
        items: (await keys.host.retire(actorOf(request), request.params.id)).map(hostView),
      }),
    );

    app.get(
      '/api/keys/client',
      {
        config: read,
        schema: {
          tags,
          summary: 'Client keys Ferry logs in to partners with (public halves; paginated by name)',
          querystring: pageQuerySchema.extend({ search: nameSearch, algorithm: algorithmFilter }),
          response: { 200: pageOf(clientKeySchema), ...problemResponses },
        },
      },
      async (request) => {
        const { search, algorithm } = request.query;
        const found = (await keys.client.list()).filter(
          (k) => contains(k.name, search) && (algorithm === undefined || k.algorithm === algorithm),
        );
        const page = paginate(found, (k) => k.name, request.query);
        return {
          items: page.items.map((k) => ({ ...sshView(k), name: k.name })),
          nextCursor: page.nextCursor,
        };
      },
    );

    app.get(
      '/api/keys/pgp',
      {
        config: read,
        schema: {
          tags,
          summary: 'OpenPGP keys (public halves; whether a private half is held; paginated by name)',
          querystring: pageQuerySchema.extend({
            search: nameSearch,
            private: z
              .enum(['true', 'false'])
              .optional()
              .describe('true: only keys with a private half (decrypt, sign); false: only public keys')
              .meta({ example: 'false' }),
          }),
          response: { 200: pageOf(pgpKeySchema), ...problemResponses },
        },
      },
      async (request) => {
        const { search, private: withPrivate } = request.query;
        const found = (await keys.pgp.list()).filter(
          (k) =>
            contains(k.name, search) &&
            (withPrivate === undefined || (k.privateSealed !== null) === (withPrivate === 'true')),
        );
        const page = paginate(found, (k) => k.name, request.query);
        return { items: page.items.map(pgpView), nextCursor: page.nextCursor };
      },
    );
  };
