// Resolves a user's permission map (SFTPGo vocabulary) to the concrete permissions that apply in a virtual directory.
import { ConfigError } from '../errors.js';
import type { Permission, PermissionMap } from '../permission-vocabulary.js';
import { resolveVirtualPath } from './virtual-path.js';

/** Permissions that are checked; '*', 'delete' and 'rename' are shorthands expanded into these. */
export type ConcretePermission = Exclude<Permission, '*' | 'delete' | 'rename'>;

export const CONCRETE_PERMISSIONS: readonly ConcretePermission[] = [
  'list',
  'download',
  'upload',
  'overwrite',
  'delete_files',
  'delete_dirs',
  'rename_files',
  'rename_dirs',
  'create_dirs',
  'create_symlinks',
  'chmod',
  'chtimes',
  'copy',
];

function expand(granted: readonly Permission[]): ReadonlySet<ConcretePermission> {
  const out = new Set<ConcretePermission>();
  for (const p of granted) {
    if (p === '*') for (const c of CONCRETE_PERMISSIONS) out.add(c);
    else if (p === 'delete') out.add('delete_files').add('delete_dirs');
    else if (p === 'rename') out.add('rename_files').add('rename_dirs');
    else out.add(p);
  }
  return out;
}

const NONE: ReadonlySet<ConcretePermission> = new Set();

/** A permission map compiled once per session; the deepest configured directory containing a path wins. */
export class PermissionPolicy {
  /** Deepest first, so the first containing entry is the one that applies. */
  readonly #entries: { dir: string; perms: ReadonlySet<ConcretePermission> }[];

  constructor(map: PermissionMap) {
    this.#entries = Object.entries(map)
      .map(([dir, perms]) => {
        if (!dir.startsWith('/')) throw new ConfigError(`Permission directory must be absolute: ${dir}`);
        return { dir: resolveVirtualPath(dir), perms: expand(perms) };
      })
      .sort((a, b) => b.dir.length - a.dir.length);
  }

  /** Permissions in virtual directory `dir` (canonical); none when no entry covers it (fail closed). */
  at(dir: string): ReadonlySet<ConcretePermission> {
    for (const entry of this.#entries) {
      if (contains(entry.dir, dir)) return entry.perms;
    }
    return NONE;
  }

  has(permission: ConcretePermission, dir: string): boolean {
    return this.at(dir).has(permission);
  }

  /** True when an entry is configured at `dir` or below it; renaming such a directory would carry or lose its rules. */
  hasEntriesWithin(dir: string): boolean {
    return this.#entries.some((entry) => contains(dir, entry.dir));
  }
}

function contains(ancestor: string, path: string): boolean {
  return ancestor === '/' || path === ancestor || path.startsWith(`${ancestor}/`);
}
