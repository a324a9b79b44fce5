// The users file: Ferry's export format (its schema, a stored user or group as exported) and reading an export or
// an SFTPGo dump into checked users and groups, every entry checked before anything is written.
import { posix } from 'node:path';
import { z } from 'zod';
import { checkImportedHash } from '../auth/foreign-hashes.js';
import { parsePermissions, validateUserName } from '../auth/user-admin.js';
import { isCidr } from '../config/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { parseAuthorizedKeys } from '../keys/ssh-keys.js';
import { AUTH_METHODS, type GroupRecord, PROTOCOLS, type UserRecord } from '../store/types.js';
import type { FolderImportReport } from './folder-import.js';
import { groupAddSchema } from './groups.js';
import { fromSftpgo, type SftpgoMount } from './sftpgo-dump.js';
import { transferLimitSchema } from './transfer-quota-spec.js';

export const FERRY_USERS_FORMAT = 'ferry-users';

/** One user as Ferry exports it (and as an import from another format is normalised to). */
export const exportedUserSchema = z
  .object({
    name: z.string(),
    passwordHash: z.string().nullable().default(null),
    publicKeys: z.array(z.string()).default([]),
    home: z.string().nullable().default(null),
    permissions: z.record(z.string(), z.array(z.string())).default({ '/': ['*'] }),
    requiredMethods: z.array(z.enum(AUTH_METHODS)).default([]),
    allowedSources: z.array(z.string()).default([]),
    protocols: z.array(z.enum(PROTOCOLS)).default([]),
    disabled: z.boolean().default(false),
    quotaBytes: z.number().int().min(0).default(0),
    quotaFiles: z.number().int().min(0).default(0),
    uploadRate: z.number().int().min(0).default(0),
    downloadRate: z.number().int().min(0).default(0),
    /** Upload / download / total limits per UTC day or month (what the store keeps; usage is not exported). */
    transferQuotas: z
      .object({
        upload: transferLimitSchema.optional(),
        download: transferLimitSchema.optional(),
        total: transferLimitSchema.optional(),
      })
      .strict()
      .default({}),
    expires: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .nullable()
      .default(null),
    /** Encrypted storage of the user's new files; null: the server's setting. */
    storageEncryption: z.boolean().nullable().default(null),
    /** Memberships: the primary group and the secondary ones in order (the groups are in the file or the store). */
    groups: z
      .object({ primary: z.string().nullable().default(null), secondary: z.array(z.string()).default([]) })
      .strict()
      .default({ primary: null, secondary: [] }),
  })
  .strict();
export type ExportedUser = z.output<typeof exportedUserSchema>;

/** A group as exported: what `groups add` takes (its OpenPGP policies stay behind, like users'). */
export const exportedGroupSchema = groupAddSchema.omit({ pgp: true }).strict();
export type ExportedGroup = z.output<typeof exportedGroupSchema>;

const ferryFileSchema = z.object({
  format: z.literal(FERRY_USERS_FORMAT),
  version: z.literal(1),
  groups: z.array(z.unknown()).default([]),
  users: z.array(z.unknown()),
});

export interface ImportReport {
  readonly format: 'ferry' | 'sftpgo';
  readonly created: string[];
  readonly updated: string[];
  /** Groups created, or replaced with `update` (before the users, who may join them). */
  readonly groups: { readonly created: string[]; readonly updated: string[]; readonly unchanged: string[] };
  /** Users left as they are (they exist and `update` was not asked for). */
  readonly unchanged: string[];
  /** An SFTPGo dump's local folders (mounted for the users and groups the import wrote). */
  readonly folders: FolderImportReport;
  /** What the file holds that Ferry did not import, one line each (non-local storage, admins, shares…). */
  readonly notImported: string[];
}

/** Entry `index` of a file parsed with `schema`, and the name its errors go by (`user 2 (bob)`); one line if bad. */
function parseEntry<S extends z.ZodType>(
  schema: S,
  kind: 'user' | 'group',
  raw: unknown,
  index: number,
): { entry: z.output<S>; who: string } {
  const name = (raw as { name?: unknown })?.name;
  const who = `${kind} ${index + 1}${typeof name === 'string' ? ` (${name.slice(0, 40)})` : ''}`;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(
      `${who}: ${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return { entry: parsed.data, who };
}

/** Checks one normalised user fully (names, hashes, keys, paths, CIDRs); throws one line naming the user. */
function checkUser(raw: unknown, index: number): ExportedUser {
  const { entry: u, who } = parseEntry(exportedUserSchema, 'user', raw, index);
  withWho(who, () => validateUserName(u.name));
  if (u.passwordHash !== null) checkImportedHash(u.passwordHash, who);
  for (const key of u.publicKeys)
    if (parseAuthorizedKeys(key).length === 0)
      throw new InvalidArgumentError(`${who}: not a public key: ${key.slice(0, 40)}`);
  if (u.home !== null && (!posix.isAbsolute(u.home) || u.home.includes('\0')))
    throw new InvalidArgumentError(`${who}: home must be an absolute path`);
  for (const path of Object.keys(u.permissions))
    if (!path.startsWith('/') || path.includes('\0') || path.split('/').includes('..'))
      throw new InvalidArgumentError(
        `${who}: permission path '${path.slice(0, 60)}' must be absolute, without '..'`,
      );
  // The permission names, as `users set --perm` checks them.
  const map = withWho(who, () =>
    parsePermissions(
      Object.entries(u.permissions).map(([path, list]) => `${path}=${list.join(',')}`),
      {},
    ),
  );
  for (const cidr of u.allowedSources)
    if (!isCidr(cidr)) throw new InvalidArgumentError(`${who}: '${cidr.slice(0, 60)}' is not a CIDR`);
  if (u.requiredMethods.includes('password') && u.passwordHash === null)
    throw new InvalidArgumentError(`${who}: requires a password but has none`);
  return { ...u, permissions: map as Record<string, string[]> };
}

/** Runs `check`; its one-line error is prefixed with the user it is about. */
function withWho<T>(who: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`${who}: ${err.message}`);
    throw err;
  }
}

/** Reads an export or dump: its format, its users checked, and what it holds that is not imported. */
export function parseUserFile(text: string): {
  format: ImportReport['format'];
  groups: ExportedGroup[];
  users: ExportedUser[];
  folders: Record<string, unknown>[];
  mounts: SftpgoMount[];
  notImported: string[];
} {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
  const ferry = ferryFileSchema.safeParse(doc);
  let format: ImportReport['format'];
  let entries: unknown[];
  let groupEntries: unknown[] = [];
  let notImported: string[] = [];
  let folders: Record<string, unknown>[] = [];
  let mounts: SftpgoMount[] = [];
  if (ferry.success) {
    format = 'ferry';
    entries = ferry.data.users;
    groupEntries = ferry.data.groups;
  } else if (doc && typeof doc === 'object' && Array.isArray((doc as { users?: unknown }).users)) {
    format = 'sftpgo';
    ({
      users: entries,
      groups: groupEntries,
      folders,
      mounts,
      notImported,
    } = fromSftpgo(doc as Record<string, unknown>));
  } else {
    throw new InvalidArgumentError(
      `neither a Ferry users export (format "${FERRY_USERS_FORMAT}", version 1) nor an SFTPGo dump (a "users" array)`,
    );
  }
  const groups = groupEntries.map(checkGroup);
  const users = entries.map(checkUser);
  for (const [kind, names] of [
    ['group', groups.map((g) => g.name)],
    ['user', users.map((u) => u.name)],
  ] as const) {
    const seen = new Set<string>();
    for (const name of names) {
      if (seen.has(name)) throw new InvalidArgumentError(`${kind} ${name} appears twice`);
      seen.add(name);
    }
  }
  return { format, groups, users, folders, mounts, notImported };
}

/** Checks one group as `groups add` would (name, home template, permission names, CIDRs); one line naming it. */
function checkGroup(raw: unknown, index: number): ExportedGroup {
  const { entry, who } = parseEntry(exportedGroupSchema, 'group', raw, index);
  withWho(who, () => parsePermissions(entry.permissions, {}));
  return entry;
}

/** A stored user as Ferry exports it. TOTP secrets (sealed with this server's key) and PGP policies stay behind. */
export function exportUser(u: UserRecord, groups: ExportedUser['groups']): ExportedUser {
  return {
    groups,
    name: u.name,
    passwordHash: u.passwordHash,
    publicKeys: u.publicKeys.map(
      (k) => `${k.algorithm} ${k.blob.toString('base64')}${k.comment ? ` ${k.comment}` : ''}`,
    ),
    home: u.homeDir,
    permissions: u.permissions as Record<string, string[]>,
    requiredMethods: [...(u.requiredMethodsBeforeTotp ?? u.requiredMethods)],
    allowedSources: [...u.allowedSources],
    protocols: [...(u.protocols ?? [])],
    disabled: u.disabled,
    quotaBytes: u.quota?.limitBytes ?? 0,
    quotaFiles: u.quota?.limitFiles ?? 0,
    uploadRate: u.uploadRate ?? 0,
    downloadRate: u.downloadRate ?? 0,
    transferQuotas: { ...u.transferQuotas },
    expires: u.expiresOn ?? null,
    storageEncryption: u.storageEncryption ?? null,
  };
}

/** A stored group as exported: its permissions as `/path=perm,…` specs, no OpenPGP policies. */
export function exportGroup(g: GroupRecord): ExportedGroup {
  return {
    name: g.name,
    description: g.description,
    ...(g.homeTemplate ? { homeTemplate: g.homeTemplate } : {}),
    permissions: Object.entries(g.permissions).map(([path, perms]) => `${path}=${perms.join(',')}`),
    protocols: [...g.protocols],
    allowedSources: [...g.allowedSources],
    quotaBytes: g.quotaBytes,
    quotaFiles: g.quotaFiles,
    uploadRate: g.uploadRate,
    downloadRate: g.downloadRate,
    transferQuotas: { ...g.transferQuotas },
  };
}
