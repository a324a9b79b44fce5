// /api/users: SFTP users over the user admin service (list, create, show, change, delete, keys, disable, unlock).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { USER_SORT_COLUMNS, type UserSortColumn } from '../../store/types.js';
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
import {
  createBody,
  effectiveSchema,
  fingerprints,
  keysBody,
  nameParams,
  patchBody,
  userSchema,
} from './user-schemas.js';

/** The value each sort compares (the same as the store's columns: ISO times, names). */
const USER_SORT_KEYS: SortKeys<{ name: string; created: string; updated: string }, UserSortColumn> = {
  name: (u) => u.name,
  created: (u) => u.created,
  updated: (u) => u.updated,
};

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
