// The permission vocabulary (SFTPGo's names) and the per-directory map: what users are granted, stored and enforced.
// It sits below both `store/`, which persists it, and `core/`, which enforces it, so neither has to import the other.

/** SFTPGo's permission vocabulary; `*` grants all. */
export const PERMISSIONS = [
  '*',
  'list',
  'download',
  'upload',
  'overwrite',
  'delete',
  'delete_files',
  'delete_dirs',
  'rename',
  'rename_files',
  'rename_dirs',
  'create_dirs',
  'create_symlinks',
  'chmod',
  'chtimes',
  'copy',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Virtual directory ('/', '/in', ...) → permissions there and below, unless a deeper entry overrides. */
export type PermissionMap = Readonly<Record<string, readonly Permission[]>>;
