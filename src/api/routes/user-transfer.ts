// GET /api/users/export and POST /api/users/import: users moved between servers (Ferry's export format, or an
// SFTPGo dump to import). The admin's alone: an export holds every password hash, an import sets them.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { exportedGroupSchema, exportedUserSchema, FERRY_USERS_FORMAT } from '../../admin/user-file.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, problemResponses } from '../deps.js';

const exportSchema = z
  .object({
    format: z.literal(FERRY_USERS_FORMAT),
    version: z.literal(1),
    exportedAt: z.string(),
    groups: z.array(exportedGroupSchema),
    users: z.array(exportedUserSchema),
  })
  .meta({
    example: {
      format: FERRY_USERS_FORMAT,
      version: 1,
      exportedAt: '2026-11-30T12:00:00.000Z',
      groups: [
        {
          name: 'banks',
          description: 'partner banks',
          homeTemplate: '/srv/partners/%username%',
          permissions: ['/in=list,upload'],
          protocols: ['sftp'],
          allowedSources: [],
          quotaBytes: 0,
          quotaFiles: 0,
          uploadRate: 0,
          downloadRate: 0,
          transferQuotas: { total: { bytes: 107374182400, period: 'month' } },
        },
      ],
      users: [
        {
          name: 'alice',
          passwordHash:
            '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA',
          publicKeys: [],
          home: null,
          permissions: { '/': ['*'] },
          requiredMethods: [],
          allowedSources: [],
          protocols: [],
          disabled: false,
          quotaBytes: 0,
          quotaFiles: 0,
          uploadRate: 0,
          downloadRate: 0,
          transferQuotas: {},
          expires: null,
          storageEncryption: null,
          groups: { primary: 'banks', secondary: [] },
        },
      ],
    },
  });

const reportSchema = z
  .object({
    dryRun: z.boolean(),
    format: z.enum(['ferry', 'sftpgo']),
    created: z.array(z.string()),
    updated: z.array(z.string()),
    unchanged: z.array(z.string()),
    groups: z.object({
      created: z.array(z.string()),
      updated: z.array(z.string()),
      unchanged: z.array(z.string()),
    }),
    folders: z
      .object({
        created: z.array(z.string()),
        updated: z.array(z.string()),
        unchanged: z.array(z.string()),
      })
      .describe("an SFTPGo dump's local folders, mounted for the users and groups the import wrote"),
    notImported: z.array(z.string()),
  })
  .meta({
    example: {
      dryRun: true,
      format: 'sftpgo',
      created: ['bank1'],
      updated: [],
      unchanged: [],
      groups: { created: ['banks'], updated: [], unchanged: [] },
      folders: { created: ['shared'], updated: [], unchanged: [] },
      notImported: ['folder archive: storage provider 1 (only local folders are imported)'],
    },
  });

export const userTransferRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/users/export',
      {
        config: { permission: 'users:transfer' },
        schema: {
          tags: ['users'],
          summary:
            "Every user in Ferry's export format (password hashes included), for `ferry users import` elsewhere",
          response: { 200: exportSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return deps.admin.userTransfer.export(actorOf(request));
      },
    );

    app.post(
      '/api/users/import',
      {
        config: { permission: 'users:transfer' },
        schema: {
          tags: ['users'],
          summary:
            'Create users from a Ferry export or an SFTPGo dump (the file as the body); every entry is checked before anything is written',
          querystring: z.object({
            update: z
              .stringbool()
              .default(false)
              .meta({ description: 'replace existing users from the file too' }),
            dryRun: z.stringbool().default(false).meta({ description: 'check and report, change nothing' }),
          }),
          body: z.looseObject({}).meta({
            example: { format: FERRY_USERS_FORMAT, version: 1, users: [{ name: 'imported-example' }] },
          }),
          response: { 200: reportSchema, ...problemResponses },
        },
      },
      async (request) => {
        const report = await deps.admin.userTransfer.import(actorOf(request), JSON.stringify(request.body), {
          update: request.query.update,
          dryRun: request.query.dryRun,
        });
        return { dryRun: request.query.dryRun, ...report };
      },
    );
  };
