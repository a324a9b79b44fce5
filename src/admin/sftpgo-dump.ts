// SFTPGo's dump (`sftpgo dumpdata`, the REST API's /dumpdata) mapped to Ferry users. SFTPGo's per-folder
// permission names are Ferry's own vocabulary; bandwidth is in KB/s there (KiB here), expiry an instant in ms
// (a last day here), `status` 0 a disabled account, `denied_protocols` the protocols to leave out. Folders on the
// local disk become virtual folders, users' and groups' `virtual_folders` their mounts (permissions: the owner's
// entry for the virtual path or its nearest parent, as SFTPGo inherits them). What Ferry has no place for
// (non-local storage, admins, shares, event rules) is listed, not silently dropped.
import type { Protocol } from '../store/types.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
const whole = (v: unknown): number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;

/** SFTPGo protocol names and the Ferry protocols each stands for. */
const PROTOCOL_MAP: Record<string, readonly Protocol[]> = {
  SSH: ['sftp', 'scp', 'ssh'],
  FTP: ['ftps'],
  HTTP: ['https'],
};
const FERRY_PROTOCOLS: readonly Protocol[] = ['sftp', 'scp', 'ssh', 'https', 'ftps'];

/** A mount of a dump folder for a user or a group, as the import applies it. */
export interface SftpgoMount {
  readonly owner: { readonly kind: 'user' | 'group'; readonly name: string };
  readonly folder: string;
  readonly virtualPath: string;
  readonly permissions: string[];
}

/** The permissions SFTPGo applies at `path`: the entry for it or its nearest parent. */
function inheritedPermissions(permissions: Json, path: string): string[] | undefined {
  for (let p = path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
    const list = strings(permissions[p]);
    if (list.length > 0) return list;
    if (p === '/') return undefined;
  }
}

/** The owner's `virtual_folders` as mounts of the dump's local folders; the rest listed as not imported. */
function mountsOf(
  owner: SftpgoMount['owner'],
  entries: unknown,
  permissions: Json,
  local: ReadonlySet<string>,
  mounts: SftpgoMount[],
  notImported: string[],
): void {
  for (const vf of (Array.isArray(entries) ? entries : []).filter(isObject)) {
    const name = typeof vf.name === 'string' ? vf.name : '';
    const virtualPath = typeof vf.virtual_path === 'string' ? vf.virtual_path : '';
    if (!local.has(name)) {
      notImported.push(
        `${owner.kind} ${owner.name}: virtual folder ${name || '(unnamed)'} (not a local folder of the dump)`,
      );
      continue;
    }
    const granted = inheritedPermissions(permissions, virtualPath);
    mounts.push({ owner, folder: name, virtualPath, permissions: granted ?? ['list', 'download'] });
  }
}

/** The last day (UTC) an account that expires at `ms` may still log in. */
function lastDay(ms: number): string {
  return new Date(ms - 1).toISOString().slice(0, 10);
}

/** One SFTPGo user as an entry of Ferry's export format (checked afterwards like any other), or why it is left out. */
function user(
  u: Json,
  notImported: string[],
  local: ReadonlySet<string>,
  mounts: SftpgoMount[],
): Json | undefined {
  const name = typeof u.username === 'string' ? u.username : '';
  const fs = isObject(u.filesystem) ? u.filesystem : undefined;
  if (fs && fs.provider !== undefined && fs.provider !== 0) {
    notImported.push(`user ${name}: storage provider ${String(fs.provider)} (only local homes are imported)`);
    return undefined;
  }
  const filters = isObject(u.filters) ? u.filters : {};
  const denied = new Set(strings(filters.denied_protocols));
  const deniedMethods = new Set(strings(filters.denied_login_methods));
  const protocols = allowedProtocols(filters);
  if (protocols.length === 0 && denied.size > 0)
    notImported.push(`user ${name}: every protocol denied; imported disabled`);
  const password =
    typeof u.password === 'string' && u.password !== '' && !deniedMethods.has('password') ? u.password : null;
  const permissions: Record<string, unknown> = {};
  if (isObject(u.permissions))
    for (const [path, list] of Object.entries(u.permissions)) permissions[path] = strings(list);
  const expiration = whole(u.expiration_date);
  // SFTPGo's group types: 1 primary, 2 secondary, 3 membership only (no settings); the last two are secondary here.
  const memberships = (Array.isArray(u.groups) ? u.groups : []).filter(isObject);
  const primary = memberships.find((g) => g.type === 1 && typeof g.name === 'string')?.name as
    | string
    | undefined;
  const secondary = memberships
    .filter((g) => g.type !== 1 && typeof g.name === 'string')
    .map((g) => g.name as string);
  mountsOf(
    { kind: 'user', name },
    u.virtual_folders,
    isObject(u.permissions) ? u.permissions : {},
    local,
    mounts,
    notImported,
  );
  return {
    name,
    passwordHash: password,
    publicKeys: strings(u.public_keys),
    home: typeof u.home_dir === 'string' && u.home_dir !== '' ? u.home_dir : null,
    ...(Object.keys(permissions).length > 0 ? { permissions } : {}),
    allowedSources: strings(filters.allowed_ip),
    protocols,
    disabled: u.status === 0 || (protocols.length === 0 && denied.size > 0),
    quotaBytes: whole(u.quota_size),
    quotaFiles: whole(u.quota_files),
    uploadRate: whole(u.upload_bandwidth) * 1024,
    downloadRate: whole(u.download_bandwidth) * 1024,
    expires: expiration > 0 ? lastDay(expiration) : null,
    groups: { primary: primary ?? null, secondary },
  };
}

/** Protocols left after SFTPGo's `denied_protocols` ([] when none is denied: every protocol). */
function allowedProtocols(filters: Json): Protocol[] {
  const denied = new Set(strings(filters.denied_protocols));
  if (denied.size === 0) return [];
  return FERRY_PROTOCOLS.filter((p) => ![...denied].some((d) => PROTOCOL_MAP[d]?.includes(p)));
}

/** One SFTPGo group (its `user_settings`) as a Ferry group entry, checked afterwards like any other. */
function group(g: Json, notImported: string[], local: ReadonlySet<string>, mounts: SftpgoMount[]): Json {
  const name = typeof g.name === 'string' ? g.name : '';
  const settings = isObject(g.user_settings) ? g.user_settings : {};
  const filters = isObject(settings.filters) ? settings.filters : {};
  const permissions: string[] = [];
  if (isObject(settings.permissions))
    for (const [path, list] of Object.entries(settings.permissions))
      permissions.push(`${path}=${strings(list).join(',')}`);
  const home =
    typeof settings.home_dir === 'string' && settings.home_dir !== '' ? settings.home_dir : undefined;
  mountsOf(
    { kind: 'group', name },
    g.virtual_folders,
    isObject(settings.permissions) ? settings.permissions : {},
    local,
    mounts,
    notImported,
  );
  return {
    name,
    ...(typeof g.description === 'string' ? { description: g.description.slice(0, 500) } : {}),
    ...(home ? { homeTemplate: home } : {}),
    permissions,
    protocols: allowedProtocols(filters),
    allowedSources: strings(filters.allowed_ip),
    quotaBytes: whole(settings.quota_size),
    quotaFiles: whole(settings.quota_files),
    uploadRate: whole(settings.upload_bandwidth) * 1024,
    downloadRate: whole(settings.download_bandwidth) * 1024,
  };
}

/**
 * The dump's local folders as Ferry folder entries: the directory (`mapped_path`) and the first positive quota a
 * mount of it sets (SFTPGo keeps quotas on the mounts; Ferry on the folder, counted apart from users' quotas).
 */
function folders(doc: Json, notImported: string[]): Json[] {
  const mappings = [...(doc.users as unknown[]), ...(Array.isArray(doc.groups) ? doc.groups : [])]
    .filter(isObject)
    .flatMap((o) => (Array.isArray(o.virtual_folders) ? o.virtual_folders : []).filter(isObject));
  const out: Json[] = [];
  for (const f of (Array.isArray(doc.folders) ? doc.folders : []).filter(isObject)) {
    const name = typeof f.name === 'string' ? f.name : '';
    const fs = isObject(f.filesystem) ? f.filesystem : undefined;
    if (fs && fs.provider !== undefined && fs.provider !== 0) {
      notImported.push(
        `folder ${name}: storage provider ${String(fs.provider)} (only local folders are imported)`,
      );
      continue;
    }
    const mine = mappings.filter((m) => m.name === name);
    out.push({
      name,
      path: typeof f.mapped_path === 'string' ? f.mapped_path : '',
      ...(typeof f.description === 'string' ? { description: f.description.slice(0, 500) } : {}),
      quotaBytes: mine.map((m) => whole(m.quota_size)).find((n) => n > 0) ?? 0,
      quotaFiles: mine.map((m) => whole(m.quota_files)).find((n) => n > 0) ?? 0,
    });
  }
  return out;
}

/** The dump's users as Ferry export entries, its folders and their mounts, and one line for each thing not imported. */
export function fromSftpgo(doc: Json): {
  groups: unknown[];
  users: unknown[];
  folders: Json[];
  mounts: SftpgoMount[];
  notImported: string[];
} {
  const notImported: string[] = [];
  const localFolders = folders(doc, notImported);
  const local = new Set(localFolders.map((f) => f.name as string));
  const mounts: SftpgoMount[] = [];
  const users = (doc.users as unknown[]).flatMap((u) => {
    if (!isObject(u)) return [u];
    const mapped = user(u, notImported, local, mounts);
    return mapped ? [mapped] : [];
  });
  const groups = (Array.isArray(doc.groups) ? doc.groups : []).map((g) =>
    isObject(g) ? group(g, notImported, local, mounts) : g,
  );
  for (const key of ['admins', 'api_keys', 'shares', 'event_actions', 'event_rules', 'roles']) {
    const list = doc[key];
    if (Array.isArray(list) && list.length > 0) notImported.push(`${list.length} ${key.replace('_', ' ')}`);
  }
  return { groups, users, folders: localFolders, mounts, notImported };
}
