// /api/users: SFTP users over the user admin service (list, create, show, change, delete, keys, disable, unlock).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { transferLimitSchema, transferQuotaChangesSchema } from '../../admin/transfer-quota-spec.js';
import {
  AUTH_METHODS,
  AUTH_SOURCES,
  PROTOCOLS,
  USER_SORT_COLUMNS,
  type UserSortColumn,
} from '../../store/types.js';
import { Secret } from '../../util/secret.js';
import { actorOf } from '../auth.js';
import { type ApiDeps, pageOf, pageQuerySchema, problemResponses } from '../deps.js';
import {
  decodeSortCursor,
  encodeSortCursor,
  parseSort,
  type SortKeys,
  sortedPage,
  sortParam,
} from '../sorting.js';

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

/** The value each sort compares (the same as the store's columns: ISO times, names). */
const USER_SORT_KEYS: SortKeys<{ name: string; created: string; updated: string }, UserSortColumn> = {
  name: (u) => u.name,
  created: (u) => u.created,
  updated: (u) => u.updated,
};

const sourceMap = z.record(z.string(), z.string());
const effectiveSchema = z
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
const nameParams = z.object({ name: z.string().min(1).max(200) });
const methods = z.array(z.enum(AUTH_METHODS));

const createBody = z
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
const patchBody = z
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

const keysBody = z
  .object({ publicKeys: z.array(z.string().min(1).max(16_384)).min(1).max(100) })
  .strict()
  .meta({ example: { publicKeys: [EXAMPLE_KEY] } });
const fingerprints = z
  .object({ fingerprints: z.array(z.string()) })
  .meta({ example: { fingerprints: ['SHA256:Vx1cQ7m8mBX0GbG9s3u0Xr2hZ4g0Kp8nQ2mC0c4o9rE'] } });

export const userRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const users = deps.admin.users;
    const read = { permission: 'users:read' } as const;
    const write = { permission: 'users:write' } as const;
    const tags = ['users'];

    app.get(
      '/api/users',
      {
        config: read,
        schema: {
          tags,
          summary:
            'List users (paginated; by name unless sorted otherwise; optionally only names containing a search text)',
          querystring: pageQuerySchema.extend({
            search: z.string().max(200).optional().describe('only names containing this text (any case)'),
            sort: sortParam(USER_SORT_COLUMNS, 'name'),
          }),
          response: { 200: pageOf(userSchema), ...problemResponses },
        },
      },
      async (request) => {
        const { limit, cursor, search } = request.query;
        const order = parseSort(request.query.sort, USER_SORT_COLUMNS, 'name');
        // A search reads the names and filters them (the console's user search); a plain listing pages in the store.
        if (search) {
          const text = search.toLowerCase();
          const found = (await users.list()).filter((u) => u.name.toLowerCase().includes(text));
          return sortedPage(found, USER_SORT_KEYS, (u) => u.name, order, request.query);
        }
        // Keyset paging in the store: a page of 100 costs the same with 10 000 users as with 100, under any sort.
        // The cursor is sortedPage()'s (the sort, the last user's sort value and name).
        const at = cursor === undefined ? undefined : decodeSortCursor(order, cursor);
        const rows = await users.page(
          { by: order.key, descending: order.descending },
          at === undefined ? undefined : { key: String(at.key), name: at.tie },
          limit + 1,
        );
        const items = rows.slice(0, limit);
        const last = items.at(-1);
        return {
          items,
          nextCursor:
            rows.length > limit && last
              ? encodeSortCursor(order, USER_SORT_KEYS[order.key](last), last.name)
              : null,
        };
      },
    );

    app.post(
      '/api/users',
      {
        config: write,
        schema: {
          tags,
          summary: 'Create a user with a password and/or public keys',
          body: createBody,
          response: { 201: userSchema, ...problemResponses },
        },
      },
      async (request, reply) => {
        const b = request.body;
        const user = await users.add(actorOf(request), {
          name: b.username,
          password: b.password === undefined ? undefined : new Secret(b.password),
          publicKeys: b.publicKeys,
          requiredMethods: b.requiredMethods,
          home: b.home,
          permissions: b.permissions,
          allowedSources: b.allowedSources,
          protocols: b.protocols,
          ...(b.group !== undefined ? { group: b.group } : {}),
          ...(b.groups ? { groups: b.groups } : {}),
        });
        return reply
          .code(201)
          .header('location', `/api/users/${encodeURIComponent(user.name)}`)
          .send(user);
      },
    );

    app.get(
      '/api/users/:name',
      {
        config: read,
        schema: {
          tags,
          summary: 'Show a user',
          params: nameParams,
          response: { 200: userSchema, ...problemResponses },
        },
      },
      async (request) => users.show(request.params.name),
    );

    app.get(
      '/api/users/:name/effective',
      {
        config: read,
        schema: {
          tags,
          summary:
            "The settings the user's sessions get (own, else their groups'), each with where it came from",
          params: nameParams,
          response: { 200: effectiveSchema, ...problemResponses },
        },
      },
      async (request) => {
        const e = await users.effective(request.params.name);
        return {
          name: e.name,
          home: e.home,
          groups: e.groups,
          permissions: e.permissions,
          protocols: e.protocols,
          allowedSources: e.allowedSources,
          quotaBytes: e.quota.limitBytes,
          quotaFiles: e.quota.limitFiles,
          uploadRate: e.uploadRate,
          downloadRate: e.downloadRate,
          folders: e.folders,
          transferQuotas: e.transferQuotas,
          transferUsage: e.transferUsage,
          storageEncryption: e.encryption.on,
          sources: { ...e.sources, storageEncryption: e.encryption.source },
        };
      },
    );

    app.patch(
      '/api/users/:name',
      {
        config: write,
        schema: {
          tags,
          summary:
            'Change permissions, login methods, home, networks, protocols, groups, quotas, transfer quotas, rates, expiry, password or disabled',
          params: nameParams,
          body: patchBody,
          response: { 200: userSchema, ...problemResponses },
        },
      },
      async (request) => {
        const actor = actorOf(request);
        const { name } = request.params;
        const b = request.body;
        await users.show(name);
        const settings = [
          b.permissions,
          b.resetPermissions,
          b.requiredMethods,
          b.home,
          b.allowedSources,
          b.protocols,
          b.group,
          b.addGroups,
          b.removeGroups,
          b.inheritPermissions,
          b.quotaBytes,
          b.quotaFiles,
          b.uploadRate,
          b.downloadRate,
          b.transferQuotas,
          b.mustChangePassword,
          b.expires,
          b.storageEncryption,
        ];
        if (settings.some((v) => v !== undefined)) {
          await users.set(actor, {
            name,
            permissions: b.permissions,
            resetPermissions: b.resetPermissions,
            requiredMethods: b.requiredMethods,
            home: b.home,
            allowedSources: b.allowedSources,
            protocols: b.protocols,
            ...(b.group !== undefined ? { group: b.group } : {}),
            ...(b.addGroups ? { addGroups: b.addGroups } : {}),
            ...(b.removeGroups ? { removeGroups: b.removeGroups } : {}),
            ...(b.inheritPermissions ? { inheritPermissions: b.inheritPermissions } : {}),
            quotaBytes: b.quotaBytes,
            quotaFiles: b.quotaFiles,
            uploadRate: b.uploadRate,
            downloadRate: b.downloadRate,
            ...(b.transferQuotas ? { transferQuotas: b.transferQuotas } : {}),
            ...(b.mustChangePassword !== undefined ? { mustChangePassword: b.mustChangePassword } : {}),
            ...(b.expires !== undefined ? { expires: b.expires } : {}),
            ...(b.storageEncryption !== undefined ? { storageEncryption: b.storageEncryption } : {}),
          });
        }
        // Setting a password clears mustChangePassword unless the same request asks for it (a temporary password).
        if (b.password !== undefined)
          await users.passwd(actor, name, new Secret(b.password), {
            mustChange: b.mustChangePassword === true,
          });
        if (b.disabled !== undefined) await users.setDisabled(actor, name, b.disabled);
        return users.show(name);
      },
    );

    app.delete(
      '/api/users/:name',
      {
        config: write,
        schema: {
          tags,
          summary: 'Delete a user (its files stay)',
          params: nameParams,
          response: { 204: z.null().describe('deleted'), ...problemResponses },
        },
      },
      async (request, reply) => {
        await users.remove(actorOf(request), request.params.name);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/api/users/:name/keys',
      {
        config: write,
        schema: {
          tags,
          summary: 'Accept more public keys (authorized_keys lines)',
          params: nameParams,
          body: keysBody,
          response: { 200: fingerprints, ...problemResponses },
        },
      },
      async (request) => {
        const text = request.body.publicKeys.join('\n');
        return { fingerprints: await users.addKeys(actorOf(request), request.params.name, text) };
      },
    );

    app.delete(
      '/api/users/:name/keys/:fingerprint',
      {
        config: write,
        schema: {
          tags,
          summary: 'Remove the public key with this SHA256 fingerprint',
          params: nameParams.extend({ fingerprint: z.string().min(1) }),
          response: { 200: fingerprints, ...problemResponses },
        },
      },
      async (request) => ({
        fingerprints: await users.removeKeys(
          actorOf(request),
          request.params.name,
          request.params.fingerprint,
        ),
      }),
    );

    for (const [action, disabled] of [
      ['disable', true],
      ['enable', false],
    ] as const) {
      app.post(
        `/api/users/:name/${action}`,
        {
          config: write,
          schema: {
            tags,
            summary: disabled ? 'Refuse all logins of the user' : 'Allow a disabled user again',
            params: nameParams,
            response: { 200: userSchema, ...problemResponses },
          },
        },
        async (request) => {
          await users.setDisabled(actorOf(request), request.params.name, disabled);
          return users.show(request.params.name);
        },
      );
    }

    app.delete(
      '/api/users/:name/totp',
      {
        config: write,
        schema: {
          tags,
          summary: "Remove the user's TOTP secret; login goes back to the rule from before TOTP",
          params: nameParams,
          response: { 200: userSchema, ...problemResponses },
        },
      },
      async (request) => {
        await users.disableTotp(actorOf(request), request.params.name);
        return users.show(request.params.name);
      },
    );

    app.post(
      '/api/users/:name/unlock',
      {
        config: write,
        schema: {
          tags,
          summary: "End the user's lockout and forget its failed logins",
          params: nameParams,
          response: { 200: userSchema, ...problemResponses },
        },
      },
      async (request) => {
        await users.unlock(actorOf(request), request.params.name);
        return users.show(request.params.name);
      },
    );
  };
