// /api/keys/x509: X.509 certificates of the Key Manager (the API's own TLS). The public chain is anyone's to read
// (operators and auditors pin it); generate, import and remove are the admin's; the private key never leaves.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { CertificateRecord } from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import {
  type ApiDeps,
  contains,
  nameSearch,
  pageOf,
  pageQuerySchema,
  paginate,
  problemResponses,
} from '../deps.js';

const EXAMPLE_FINGERPRINT =
  '3A:7F:0C:51:9E:22:B4:6D:88:10:C3:5E:A9:4B:F2:07:6C:DE:31:90:AB:45:12:8F:E6:73:0D:B9:C4:28:5A:E1';
const EXAMPLE_CHAIN = '-----BEGIN CERTIFICATE-----\nMIIBoDCCAUWgAwIBAgIQ…\n-----END CERTIFICATE-----\n';

const certificateSchema = z
  .object({
    name: z.string(),
    algorithm: z.string().describe('ecdsa-p256, rsa-3072, …'),
    subject: z.string(),
    issuer: z.string(),
    altNames: z.string().describe('subjectAltName of the leaf, as `DNS:a, IP Address:192.0.2.10`'),
    sha256: z.string().describe('SHA-256 fingerprint of the leaf (as `openssl x509 -fingerprint -sha256`)'),
    notBefore: z.string(),
    notAfter: z.string(),
    chainLength: z.number().int(),
    created: z.string(),
  })
  .meta({
    id: 'Certificate',
    example: {
      name: 'api',
      algorithm: 'ecdsa-p256',
      subject: 'CN=ferry.example.com',
      issuer: 'CN=ferry.example.com',
      altNames: 'DNS:ferry.example.com, IP Address:192.0.2.10',
      sha256: EXAMPLE_FINGERPRINT,
      notBefore: '2026-11-30T08:00:00.000Z',
      notAfter: '2027-11-30T09:00:00.000Z',
      chainLength: 1,
      created: '2026-11-30T09:00:00.000Z',
    },
  });

const certificateView = (c: CertificateRecord): z.infer<typeof certificateSchema> => ({
  name: c.name,
  algorithm: c.algorithm,
  subject: c.subject,
  issuer: c.issuer,
  altNames: c.altNames,
  sha256: c.fingerprint,
  notBefore: c.notBefore.toISOString(),
  notAfter: c.notAfter.toISOString(),
  chainLength: (c.chainPem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length,
  created: c.createdAt.toISOString(),
});

const nameSchema = z.string().min(1).max(64);
const nameParams = z.object({ name: nameSchema });

export const certificateRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const x509 = deps.admin.keys.x509;
    const read = { permission: 'certificates:read' } as const;
    const write = { permission: 'keys:write' } as const;
    const tags = ['keys'];

    app.get(
      '/api/keys/x509',
      {
        config: read,
        schema: {
          tags,
          summary:
            'X.509 certificates with their SHA-256 fingerprints (public information only; paginated by name)',
          querystring: pageQuerySchema.extend({
            search: nameSearch,
            expiringWithinDays: z.coerce
              .number()
              .int()
              .min(0)
              .max(36_500)
              .optional()
              .describe('only certificates whose notAfter is within this many days (0: already expired)')
              .meta({ example: 30 }),
          }),
          response: { 200: pageOf(certificateSchema), ...problemResponses },
        },
      },
      async (request) => {
        const { search, expiringWithinDays } = request.query;
        const horizon =
          expiringWithinDays === undefined ? undefined : Date.now() + expiringWithinDays * 86_400_000;
        const found = (await x509.list()).filter(
          (c) => contains(c.name, search) && (horizon === undefined || c.notAfter.getTime() <= horizon),
        );
        const page = paginate(found, (c) => c.name, request.query);
        return { items: page.items.map(certificateView), nextCursor: page.nextCursor };
      },
    );

    app.get(
      '/api/keys/x509/:name/chain',
      {
        config: read,
        schema: {
          tags,
          summary:
            'The public certificate chain (PEM, leaf first): what a client trusts, e.g. `curl --cacert`',
          params: nameParams,
          produces: ['application/pem-certificate-chain'],
          response: { 200: z.string().meta({ example: EXAMPLE_CHAIN }), ...problemResponses },
        },
      },
      async (request, reply) =>
        reply.type('application/pem-certificate-chain').send(await x509.exportChain(request.params.name)),
    );

    app.post(
      '/api/keys/x509',
      {
        config: write,
        schema: {
          tags,
          summary: 'Generate a self-signed certificate for this host (the key stays sealed in the store)',
          body: z
            .object({
              name: nameSchema,
              cn: z
                .string()
                .min(1)
                .max(64)
                .optional()
                .describe('subject common name (default: the host name)'),
              san: z
                .array(z.string().min(1).max(300))
                .max(100)
                .optional()
                .describe('`DNS:name` and `IP:address` entries (default: the common name)'),
              days: z.number().int().min(1).max(36_500).optional().describe('validity (default 365)'),
              type: z.enum(['ecdsa', 'rsa']).optional().describe('ecdsa (P-256, default) or rsa'),
              bits: z.number().int().min(2048).max(8192).optional().describe('rsa only (default 3072)'),
            })
            .strict()
            .meta({
              example: {
                name: 'api',
                cn: 'ferry.example.com',
                san: ['DNS:ferry.example.com', 'IP:192.0.2.10'],
                days: 397,
              },
            }),
          response: { 201: certificateSchema, ...problemResponses },
        },
      },
      async (request, reply) =>
        reply.code(201).send(certificateView(await x509.generate(actorOf(request), request.body))),
    );

    app.post(
      '/api/keys/x509/import',
      {
        config: write,
        schema: {
          tags,
          summary: 'Import a PEM certificate chain (leaf first) and its unencrypted private key',
          body: z
            .object({
              name: nameSchema,
              chain: z
                .string()
                .min(1)
                .max(256 * 1024)
                .describe('PEM certificates, leaf first'),
              key: z.string().min(1).max(65_536).describe("the leaf's private key (PEM)"),
            })
            .strict()
            .meta({
              example: {
                name: 'api',
                chain: EXAMPLE_CHAIN,
                key: '-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----\n',
              },
            }),
          response: { 201: certificateSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { name, chain, key } = request.body;
        const cert = await x509.import(actorOf(request), { name, chain, key: new Secret(key) });
        return reply.code(201).send(certificateView(cert));
      },
    );

    app.delete(
      '/api/keys/x509/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Delete a certificate and its key (not the one http.tlsKeyName serves)',
          params: nameParams,
          response: { 204: z.null().describe('deleted'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await x509.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
