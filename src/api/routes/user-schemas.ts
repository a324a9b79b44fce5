// The request and response schemas of /api/users (routes/users.ts), in the OpenAPI document as they are here;
// the groups routes share the transfer quotas' shape.
import { z } from 'zod';
import { transferLimitSchema, transferQuotaChangesSchema } from '../../admin/transfer-quota-spec.js';
import { AUTH_METHODS, AUTH_SOURCES, PROTOCOLS } from '../../store/types.js';

/** Limits per kind; a kind absent: no limit. */
export const transferQuotasSchema = z
  .object({
    upload: transferLimitSchema.optional(),
    download: transferLimitSchema.optional(),
    total: transferLimitSchema.optional(),
  })
  .describe(
    'bytes that may be uploaded, downloaded, or moved in total per UTC day or month; a kind absent: none',
  );
const transferUsageSchema = z.object({ uploaded: z.number(), downloaded: z.number() });

const EXAMPLE_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop';

export const userSchema = z
  .object({
    name: z.string(),
    disabled: z.boolean(),
    home: z.string(),
    hasPassword: z.boolean(),
    passwordChanged: z.string().nullable().describe('when the password was last set; null: not recorded'),
    mustChangePassword: z.boolean().describe('the next password login must change the password'),
    requiredMethods: z.array(z.string()).readonly(),
    permissions: z.record(z.string(), z.array(z.string()).readonly()).readonly(),
    allowedSources: z.array(z.string()).readonly(),
    protocols: z.array(z.enum(PROTOCOLS)).readonly().describe('the protocols the user may use; empty: all'),
    storageEncryption: z
      .boolean()
      .nullable()
      .describe("encrypted storage of the user's new files; null: the server's setting (storage.encryption)"),
    authSource: z
      .enum(AUTH_SOURCES)
      .nullable()
      .describe(
        "'ldap': provisioned from the directory, which checks the password (docs/LDAP.md); null: local",
      ),
    externalGroups: z
      .array(z.string())
      .readonly()
      .describe('directory groups recorded at the last directory login'),
    publicKeys: z.array(
      z.object({
        type: z.string(),
        fingerprint: z.string(),
        comment: z.string().nullable(),
        options: z.string().nullable(),
        added: z.string(),
      }),
    ),
    quota: z
      .object({
        limitBytes: z.number(),
        limitFiles: z.number(),
        usedBytes: z.number(),
        usedFiles: z.number(),
      })
      .describe("the user's own quota (0: none of its own) and what the home holds"),
    expires: z
      .string()
      .nullable()
      .describe('the last day (UTC, YYYY-MM-DD) the user may log in; null: never'),
    uploadRate: z.number().describe('own upload limit in bytes per second; 0: none of its own'),
    downloadRate: z.number().describe('own download limit in bytes per second; 0: none of its own'),
    transferQuotas: transferQuotasSchema.describe(
      "the user's own transfer quotas (a kind absent: none of its own)",
    ),
    created: z.string(),
    updated: z.string(),
  })
  .meta({
    id: 'User',
    example: {
      name: 'alice',
      disabled: false,
      home: '/var/lib/ferry/homes/alice',
      hasPassword: true,
      passwordChanged: '2026-11-30T09:00:00.000Z',
      mustChangePassword: false,
      requiredMethods: [],
      permissions: { '/': ['*'] },
      allowedSources: [],
      protocols: [],
      storageEncryption: null,
      authSource: null,
      externalGroups: [],
      publicKeys: [
        {
          type: 'ssh-ed25519',
          fingerprint: 'SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE',
          comment: 'alice@laptop',
          options: null,
          added: '2026-11-30T09:00:00.000Z',
        },
      ],
      quota: { limitBytes: 0, limitFiles: 0, usedBytes: 0, usedFiles: 0 },
      expires: null,
      uploadRate: 0,
      downloadRate: 0,
      transferQuotas: { upload: { bytes: 10737418240, period: 'day' } },
      created: '2026-11-30T09:00:00.000Z',
      updated: '2026-11-30T09:00:00.000Z',
    },
  });

const sourceMap = z.record(z.string(), z.string());
export const effectiveSchema = z
  .object({
    name: z.string(),
    home: z.string(),
    groups: z.object({ primary: z.string().nullable(), secondary: z.array(z.string()) }),
    permissions: z.record(z.string(), z.array(z.string()).readonly()).readonly(),
    protocols: z.array(z.enum(PROTOCOLS)).readonly(),
    allowedSources: z.array(z.string()).readonly(),
    quotaBytes: z.number(),
    quotaFiles: z.number(),
    uploadRate: z.number(),
    downloadRate: z.number(),
    folders: z
      .array(
        z.object({
          name: z.string(),
          virtualPath: z.string(),
          root: z.string(),
          quotaBytes: z.number(),
          quotaFiles: z.number(),
        }),
      )
      .readonly()
      .describe("virtual folders mounted in the user's sessions (their permissions are in `permissions`)"),
    transferQuotas: transferQuotasSchema,
    transferUsage: z
      .object({ day: transferUsageSchema, month: transferUsageSchema })
      .describe(
        'bytes moved in the current UTC day and month (counted in the directions a limit applies to)',
      ),
    storageEncryption: z
      .boolean()
      .describe("whether the user's new files are stored encrypted (their own setting, else the server's)"),
    sources: z
      .object({
        storageEncryption: z.enum(['user', 'server']),
        home: z.string(),
        protocols: z.string(),
        allowedSources: z.string(),
        quotaBytes: z.string(),
        quotaFiles: z.string(),
        uploadRate: z.string(),
        downloadRate: z.string(),
        transferQuotas: z.object({ upload: z.string(), download: z.string(), total: z.string() }),
        permissions: sourceMap,
        pgpPolicies: sourceMap,
        folders: sourceMap,
      })
      .describe("where each setting came from: 'user', 'group NAME' or 'default'"),
  })
  .meta({
    id: 'EffectiveUser',
    example: {
      name: 'alice',
      home: '/srv/partners/alice',
      groups: { primary: 'bank-partners', secondary: [] },
      permissions: { '/': ['*'], '/in': ['list', 'upload'], '/reports': ['list', 'download'] },
      protocols: [],
      allowedSources: [],
      quotaBytes: 0,
      quotaFiles: 0,
      uploadRate: 5242880,
      downloadRate: 0,
      folders: [
        { name: 'reports', virtualPath: '/reports', root: '/srv/reports', quotaBytes: 0, quotaFiles: 0 },
      ],
      transferQuotas: { download: { bytes: 53687091200, period: 'month' } },
      transferUsage: {
        day: { uploaded: 0, downloaded: 1048576 },
        month: { uploaded: 0, downloaded: 7340032 },
      },
      storageEncryption: true,
      sources: {
        storageEncryption: 'server',
        home: 'group bank-partners',
        protocols: 'default',
        allowedSources: 'default',
        quotaBytes: 'default',
        quotaFiles: 'default',
        uploadRate: 'group bank-partners',
        downloadRate: 'default',
        transferQuotas: { upload: 'default', download: 'group bank-partners', total: 'default' },
        permissions: {
          '/': 'default',
          '/in': 'group bank-partners',
          '/reports': 'folder reports (group bank-partners)',
        },
        pgpPolicies: {},
        folders: { '/reports': 'group bank-partners' },
      },
    },
  });

const protocols = z
  .array(z.enum(PROTOCOLS))
  .max(PROTOCOLS.length * 2)
  .describe("the protocols the user may use, e.g. ['sftp', 'https']; [] for all");
export const nameParams = z.object({ name: z.string().min(1).max(200) });
const methods = z.array(z.enum(AUTH_METHODS));

export const createBody = z
  .object({
    username: z.string().min(1).max(200),
    password: z.string().min(1).max(1024).optional(),
    publicKeys: z.array(z.string().min(1).max(16_384)).max(100).default([]),
    requiredMethods: methods.optional(),
    home: z.string().optional(),
    permissions: z.array(z.string().min(1)).optional().describe("e.g. ['/=list,download', '/in=*']"),
    allowedSources: z.array(z.string()).optional(),
    protocols: protocols.optional(),
    group: z.string().min(1).max(200).optional().describe('primary group'),
    groups: z.array(z.string().min(1).max(200)).max(100).optional().describe('secondary groups, in order'),
  })
  .strict()
  .meta({
    example: { username: 'alice', password: 'correct horse battery staple', publicKeys: [EXAMPLE_KEY] },
  });

const limit = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const patchBody = z
  .object({
    permissions: z.array(z.string().min(1)).optional(),
    resetPermissions: z.boolean().optional(),
    requiredMethods: methods.optional(),
    home: z.string().optional(),
    allowedSources: z.array(z.string()).optional(),
    protocols: protocols.optional(),
    password: z.string().min(1).max(1024).optional(),
    mustChangePassword: z
      .boolean()
      .optional()
      .describe('true: the next password login must change the password; false: clears it'),
    storageEncryption: z
      .boolean()
      .nullable()
      .optional()
      .describe("encrypted storage of the user's new files: true, false, or null for the server's setting"),
    disabled: z.boolean().optional(),
    group: z.string().min(1).max(200).nullable().optional().describe('primary group; null: none'),
    addGroups: z.array(z.string().min(1).max(200)).max(100).optional(),
    removeGroups: z.array(z.string().min(1).max(200)).max(100).optional(),
    inheritPermissions: z
      .array(z.string().min(1))
      .optional()
      .describe("folders whose own entry the user drops, so their groups' applies"),
    quotaBytes: limit.optional().describe('disk quota in bytes; 0: none of its own'),
    quotaFiles: limit.optional().describe('disk quota in files; 0: none of its own'),
    uploadRate: limit.optional().describe('bytes per second each session may upload; 0: none of its own'),
    downloadRate: limit.optional().describe('bytes per second each session may download; 0: none of its own'),
    transferQuotas: transferQuotaChangesSchema
      .optional()
      .describe(
        "per kind (upload, download, total): { bytes, period: 'day' | 'month' }, or null to remove the own limit",
      ),
    expires: z
      .string()
      .nullable()
      .optional()
      .describe('last day (UTC) the user may log in, YYYY-MM-DD; null: never'),
  })
  .strict()
  .meta({ example: { permissions: ['/in=list,upload'], disabled: false } });

export const keysBody = z
  .object({ publicKeys: z.array(z.string().min(1).max(16_384)).min(1).max(100) })
  .strict()
  .meta({ example: { publicKeys: [EXAMPLE_KEY] } });
export const fingerprints = z
  .object({ fingerprints: z.array(z.string()) })
  .meta({ example: { fingerprints: ['SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE'] } });
