// A user's effective settings: their own, else their primary group's, else their secondary groups' in order; and
// where each came from (`ferry users show --effective`). Sessions of every protocol use this view, read at login.
import { posix } from 'node:path';
import { FerryError } from '../errors.js';
import type { Permission, PermissionMap } from '../permission-vocabulary.js';
import type { PgpFolderPolicy, PgpPolicies } from '../util/pgp-policy.js';
import { TRANSFER_KINDS, type TransferKind, type TransferLimit } from '../util/transfer-quota.js';
import type { FolderMapping, FolderOwner } from './folder-types.js';
import type { GroupRecord, UserGroups } from './group-types.js';
import type { MountedFolder, Protocol, UserRecord, UserRepository } from './user-types.js';

/** `user`, `group NAME` or `default`. */
export type SettingSource = string;

export interface EffectiveSources {
  readonly home: SettingSource;
  readonly protocols: SettingSource;
  readonly allowedSources: SettingSource;
  readonly quotaBytes: SettingSource;
  readonly quotaFiles: SettingSource;
  readonly uploadRate: SettingSource;
  readonly downloadRate: SettingSource;
  /** Transfer kind (upload, download, total) → where its limit came from. */
  readonly transferQuotas: Readonly<Record<TransferKind, SettingSource>>;
  /** Folder → where its entry came from. */
  readonly permissions: Readonly<Record<string, SettingSource>>;
  readonly pgpPolicies: Readonly<Record<string, SettingSource>>;
  /** Virtual path of each mounted folder → where the mount came from. */
  readonly folders: Readonly<Record<string, SettingSource>>;
}

export interface EffectiveUser {
  /** The record sessions use: the user's own fields with the groups' defaults filled in. */
  readonly user: UserRecord;
  readonly groups: UserGroups;
  readonly sources: EffectiveSources;
}

export const HOME_PLACEHOLDER = '%username%';

/** Why a home template is unsafe, or undefined when it is fine. */
export function homeTemplateProblem(template: string): string | undefined {
  if (!template.startsWith('/')) return 'must be an absolute path';
  if (/[\u0000-\u001f\u007f\\]/.test(template)) return 'must not contain control characters or backslashes';
  if (template.replaceAll(HOME_PLACEHOLDER, '').includes('%'))
    return `the only placeholder is ${HOME_PLACEHOLDER}`;
  if (!template.includes(HOME_PLACEHOLDER)) return `must contain ${HOME_PLACEHOLDER} (one home per member)`;
  const segments = template.split('/').slice(1);
  if (segments.some((s) => s === '' || s === '.' || s === '..'))
    return "must not contain '.', '..' or empty path segments";
  return undefined;
}

/** The member's home from a template; refuses (fail closed) anything that is not a plain absolute path. */
export function expandHomeTemplate(template: string, username: string): string {
  const problem = homeTemplateProblem(template);
  const home = template.replaceAll(HOME_PLACEHOLDER, username);
  if (problem || posix.normalize(home) !== home || username.includes('/') || username.startsWith('.')) {
    throw new FerryError('ERR_CONFIG', `home template ${JSON.stringify(template)} is unsafe for ${username}`);
  }
  return home;
}

/** The first of the candidates (user first) that `isSet`, with where it came from. */
function pick<T>(
  own: T,
  groups: readonly GroupRecord[],
  of: (g: GroupRecord) => T,
  isSet: (v: T) => boolean,
  fallback: T,
): [T, SettingSource] {
  if (isSet(own)) return [own, 'user'];
  for (const g of groups) {
    const v = of(g);
    if (isSet(v)) return [v, `group ${g.name}`];
  }
  return [fallback, 'default'];
}

/** Per folder: the user's entry, else the first group (in precedence) naming that folder. */
function mergeFolders<T>(
  own: Readonly<Record<string, T>>,
  groups: readonly GroupRecord[],
  of: (g: GroupRecord) => Readonly<Record<string, T>>,
): [Record<string, T>, Record<string, SettingSource>] {
  const merged: Record<string, T> = {};
  const sources: Record<string, SettingSource> = {};
  for (const g of [...groups].reverse()) {
    for (const [folder, value] of Object.entries(of(g))) {
      merged[folder] = value;
      sources[folder] = `group ${g.name}`;
    }
  }
  for (const [folder, value] of Object.entries(own)) {
    merged[folder] = value;
    sources[folder] = 'user';
  }
  return [merged, sources];
}

const positive = (n: number | undefined) => (n ?? 0) > 0;
const nonEmpty = (l: readonly unknown[] | undefined) => (l ?? []).length > 0;

function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/**
 * The folders mounted in the user's view: their own mounts, then their groups' in precedence order, each kept
 * unless an earlier one already uses that path or one above or below it (mounts never nest). The folder's
 * permissions apply in all of it: they replace whatever the permission map said at or below the mount point.
 */
function mountFolders(
  mounts: readonly FolderMapping[],
  permissions: Record<string, readonly Permission[]>,
  permissionsFrom: Record<string, SettingSource>,
): [MountedFolder[], Record<string, SettingSource>] {
  const folders: MountedFolder[] = [];
  const sources: Record<string, SettingSource> = {};
  for (const m of mounts) {
    if (m.virtualPath === '/' || folders.some((f) => overlaps(f.virtualPath, m.virtualPath))) continue;
    const from = m.owner.kind === 'user' ? 'user' : `group ${m.owner.name}`;
    folders.push({
      name: m.folder.name,
      virtualPath: m.virtualPath,
      root: m.folder.path,
      quotaBytes: m.folder.quotaBytes,
      quotaFiles: m.folder.quotaFiles,
    });
    sources[m.virtualPath] = from;
    for (const dir of Object.keys(permissions)) {
      if (dir === m.virtualPath || dir.startsWith(`${m.virtualPath}/`)) {
        delete permissions[dir];
        delete permissionsFrom[dir];
      }
    }
    permissions[m.virtualPath] = m.permissions;
    permissionsFrom[m.virtualPath] = `folder ${m.folder.name} (${from})`;
  }
  return [folders, sources];
}

/** `mounts`: the user's own folder mounts, then each group's (primary first), as `loadEffectiveUser` reads them. */
export function effectiveUser(
  user: UserRecord,
  groups: UserGroups,
  mounts: readonly FolderMapping[] = [],
): EffectiveUser {
  const ordered = [...(groups.primary ? [groups.primary] : []), ...groups.secondary];
  const templated = ordered.find((g) => g.homeTemplate !== null);
  const [homeDir, home]: [string | null, SettingSource] =
    user.homeDir !== null
      ? [user.homeDir, 'user']
      : templated?.homeTemplate
        ? [expandHomeTemplate(templated.homeTemplate, user.name), `group ${templated.name}`]
        : [null, 'default'];
  const [protocols, protocolsFrom] = pick<readonly Protocol[]>(
    user.protocols ?? [],
    ordered,
    (g) => g.protocols,
    nonEmpty,
    [],
  );
  const [allowedSources, sourcesFrom] = pick(
    user.allowedSources,
    ordered,
    (g) => g.allowedSources,
    nonEmpty,
    [],
  );
  const own = user.quota ?? { limitBytes: 0, limitFiles: 0, usedBytes: 0, usedFiles: 0 };
  const [limitBytes, quotaBytes] = pick(own.limitBytes, ordered, (g) => g.quotaBytes, positive, 0);
  const [limitFiles, quotaFiles] = pick(own.limitFiles, ordered, (g) => g.quotaFiles, positive, 0);
  const [uploadRate, uploadFrom] = pick(user.uploadRate ?? 0, ordered, (g) => g.uploadRate, positive, 0);
  const [downloadRate, downloadFrom] = pick(
    user.downloadRate ?? 0,
    ordered,
    (g) => g.downloadRate,
    positive,
    0,
  );
  // Per kind, like the other limits: the user's own, else the first group setting one (a group's none: inherit).
  const transferQuotas: Partial<Record<TransferKind, TransferLimit>> = {};
  const transferFrom = {} as Record<TransferKind, SettingSource>;
  for (const kind of TRANSFER_KINDS) {
    const [limit, source] = pick<TransferLimit | undefined>(
      user.transferQuotas?.[kind],
      ordered,
      (g) => g.transferQuotas[kind],
      (l) => l !== undefined,
      undefined,
    );
    if (limit) transferQuotas[kind] = limit;
    transferFrom[kind] = source;
  }
  const [permissions, permissionsFrom] = mergeFolders<readonly Permission[]>(
    user.permissions,
    ordered,
    (g) => g.permissions,
  );
  // Nobody names the root: everything there, as for a user without groups.
  if (permissions['/'] === undefined) {
    permissions['/'] = ['*'];
    permissionsFrom['/'] = 'default';
  }
  const [folders, foldersFrom] = mountFolders(mounts, permissions, permissionsFrom);
  const [pgpPolicies, pgpFrom] = mergeFolders<PgpFolderPolicy>(
    user.pgpPolicies,
    ordered,
    (g) => g.pgpPolicies,
  );
  return {
    user: {
      ...user,
      homeDir,
      protocols,
      allowedSources,
      quota: { ...own, limitBytes, limitFiles },
      uploadRate,
      downloadRate,
      transferQuotas,
      permissions: permissions as PermissionMap,
      pgpPolicies: pgpPolicies as PgpPolicies,
      ...(folders.length > 0 ? { folders } : {}),
    },
    groups,
    sources: {
      home,
      protocols: protocolsFrom,
      allowedSources: sourcesFrom,
      quotaBytes,
      quotaFiles,
      uploadRate: uploadFrom,
      downloadRate: downloadFrom,
      transferQuotas: transferFrom,
      permissions: permissionsFrom,
      pgpPolicies: pgpFrom,
      folders: foldersFrom,
    },
  };
}

/** Reads the user and their groups: undefined when there is no such user. */
export async function loadEffectiveUser(
  store: {
    readonly users: { findByName(name: string): Promise<UserRecord | undefined> };
    readonly groups: { groupsOf(name: string): Promise<UserGroups> };
    /** Absent (stores built for tests): no virtual folders. */
    readonly folders?: { mountsOf(owner: FolderOwner): Promise<FolderMapping[]> };
  },
  name: string,
): Promise<EffectiveUser | undefined> {
  const user = await store.users.findByName(name);
  if (!user) return undefined;
  const groups = await store.groups.groupsOf(name);
  const mounts: FolderMapping[] = [];
  if (store.folders) {
    const owners: FolderOwner[] = [
      { kind: 'user', name },
      ...[...(groups.primary ? [groups.primary] : []), ...groups.secondary].map(
        (g): FolderOwner => ({ kind: 'group', name: g.name }),
      ),
    ];
    for (const owner of owners) mounts.push(...(await store.folders.mountsOf(owner)));
  }
  return effectiveUser(user, groups, mounts);
}

/**
 * `findByName` with the effective record: what front ends (SSH, FTPS, the web client, automation) look users up
 * through, so a session gets its groups' defaults. A group change applies at each member's next login.
 */
export function effectiveUserLookup(
  store: Parameters<typeof loadEffectiveUser>[0] & { readonly users: Pick<UserRepository, 'update'> },
  options: { readonly inactivityDisableDays?: number; readonly now?: () => Date } = {},
): {
  findByName(name: string): Promise<UserRecord | undefined>;
  /** The user's own record (a login re-hashing an imported password, or recording itself, writes there). */
  update: UserRepository['update'];
} {
  const days = options.inactivityDisableDays ?? 0;
  const now = options.now ?? (() => new Date());
  return {
    findByName: async (name) => {
      const user = (await loadEffectiveUser(store, name))?.user;
      return user && days > 0 && isInactive(user, days, now()) ? { ...user, inactive: true } : user;
    },
    update: (name, patch) => store.users.update(name, patch),
  };
}

/** Nobody has logged in as `user` for `days` days (counted from its creation when it never logged in). */
export function isInactive(user: UserRecord, days: number, now: Date): boolean {
  const since = user.lastLoginAt ?? user.createdAt;
  return now.getTime() - since.getTime() > days * 86_400_000;
}
