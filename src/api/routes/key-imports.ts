// Keys coming in over HTTP: host key import, OpenPGP generate/import/remove. Private halves go in, never out.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';
import { hostKeySchema, hostView, pgpKeySchema, pgpView } from './keys.js';

/** A private key file's text: OpenSSH, PEM or PuTTY for host keys; ASCII-armored for OpenPGP. */
const keyText = z.string().min(1).max(65_536);
const passphrase = z.string().min(1).max(1024).optional().describe('when the key file is encrypted');

export const keyImportRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const keys = deps.admin.keys;
    // The server's identity and its decryption keys: the admin's alone, like the host key lifecycle.
    const write = { permission: 'keys:write' } as const;
    const tags = ['keys'];

    app.post(
      '/api/keys/host/import',
      {
        config: write,
        schema: {
          tags,
          summary: 'Import a host key (private key file text); it is announced (pending) until promoted',
          body: z
            .object({ privateKey: keyText, passphrase })
            .strict()
            .meta({
              example: {
                privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\n…\n-----END OPENSSH PRIVATE KEY-----\n',
              },
            }),
          response: { 201: hostKeySchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { privateKey, passphrase: pass } = request.body;
        const key = await keys.host.import(actorOf(request), {
          data: Buffer.from(privateKey, 'utf8'),
          ...(pass !== undefined ? { passphrase: new Secret(pass) } : {}),
        });
        return reply.code(201).send(hostView(key));
      },
    );

    app.post(
      '/api/keys/pgp',
      {
        config: write,
        schema: {
          tags,
          summary: 'Generate an OpenPGP key pair (the private half stays sealed in the store)',
          body: z
            .object({
              name: z.string().min(1).max(64),
              email: z.string().min(3).max(254),
              userName: z.string().max(200).optional(),
              type: z.enum(['curve25519', 'rsa4096']).optional(),
              expiresInDays: z.number().int().min(1).max(36_500).optional(),
            })
            .strict()
            .meta({ example: { name: 'vault', email: 'ferry@example.com', userName: 'Ferry' } }),
          response: { 201: pgpKeySchema, ...problemResponses },
        },
      },
      async (request, reply) =>
        reply.code(201).send(pgpView(await keys.pgp.generate(actorOf(request), request.body))),
    );

    app.post(
      '/api/keys/pgp/import',
      {
        config: write,
        schema: {
          tags,
          summary: "Import an OpenPGP key (armored): a partner's public key, or a key pair",
          body: z
            .object({
              key: keyText.describe('ASCII-armored public or private key block'),
              name: z.string().min(1).max(64).optional().describe('default: the key id'),
              passphrase,
            })
            .strict()
            .meta({
              example: {
                name: 'acme',
                key: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n…\n-----END PGP PUBLIC KEY BLOCK-----\n',
              },
            }),
          response: { 201: pgpKeySchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const { key, name, passphrase: pass } = request.body;
        const record = await keys.pgp.import(actorOf(request), {
          data: Buffer.from(key, 'utf8'),
          ...(name !== undefined ? { name } : {}),
          ...(pass !== undefined ? { passphrase: new Secret(pass) } : {}),
        });
        return reply.code(201).send(pgpView(record));
      },
    );

    app.delete(
      '/api/keys/pgp/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Delete an OpenPGP key',
          params: z.object({ name: z.string().min(1).max(200) }),
          response: { 204: z.null().describe('deleted'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await keys.pgp.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );
  };
