// /api/keys/client (POST): key pairs Ferry logs in to partners with, generated in the store or imported. The
// answer is the public half (the authorized_keys line to give the partner); the private half never leaves.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SSH_KEY_TYPES } from '../../admin/user-inputs.js';
import type { ClientKeyRecord } from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { clientKeySchema, sshView } from './keys.js';

const name = z.string().min(1).max(64).describe('1-64 letters, digits, _ . -');
const clientView = (k: ClientKeyRecord) => ({ ...sshView(k), name: k.name });

export const clientKeyRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const clients = deps.admin.keys.client;
    const config = { permission: 'clientkeys:write' } as const;
    const tags = ['keys'];

    app.post(
      '/api/keys/client',
      {
        config,
        schema: {
          tags,
          summary:
            'Generate a client key (the private half stays sealed in the store; the answer is the public line)',
          body: z
            .object({
              name,
              type: z.enum(SSH_KEY_TYPES),
              bits: z
                .number()
                .int()
                .min(256)
                .max(16_384)
                .optional()
                .describe('ecdsa: 256, 384, 521; rsa: 2048-16384'),
            })
            .strict()
            .meta({ example: { name: 'acme-key', type: 'ed25519' } }),
          response: { 201: clientKeySchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { name: keyName, type, bits } = request.body;
        const key = await clients.generate(actorOf(request), keyName, {
          type,
          ...(bits !== undefined ? { bits } : {}),
        });
        return reply.code(201).send(clientView(key));
      },
    );

    app.post(
      '/api/keys/client/import',
      {
        config,
        schema: {
          tags,
          summary:
            'Import a client key (private key file text: OpenSSH, PEM, PuTTY); only its public half comes back',
          body: z
            .object({
              name,
              privateKey: z.string().min(1).max(65_536),
              passphrase: z.string().min(1).max(1024).optional().describe('when the key file is encrypted'),
            })
            .strict()
            .meta({
              example: {
                name: 'acme-key',
                privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\n…\n-----END OPENSSH PRIVATE KEY-----\n',
              },
            }),
          response: { 201: clientKeySchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { name: keyName, privateKey, passphrase } = request.body;
        const key = await clients.import(actorOf(request), keyName, {
          data: Buffer.from(privateKey, 'utf8'),
          ...(passphrase !== undefined ? { passphrase: new Secret(passphrase) } : {}),
        });
        return reply.code(201).send(clientView(key));
      },
    );
  };
