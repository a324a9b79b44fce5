// A directory as the browse page shows it: entries read through the core, sorted, bounded, with breadcrumbs.
import type { DirEntry, FileSession } from '../core/types.js';

/** A page never lists more than this; a bigger folder says so (SFTP clients see all of it). */
export const MAX_LISTED = 5000;

export type SortKey = 'name' | 'size' | 'mtime';

export interface Listing {
  readonly path: string;
  readonly entries: DirEntry[];
  readonly truncated: boolean;
}

export async function listDirectory(
  files: FileSession,
  path: string,
  sort: SortKey,
  desc: boolean,
): Promise<Listing> {
  const dir = await files.openDir(path);
  const entries: DirEntry[] = [];
  let truncated = false;
  try {
    for (let batch = await dir.read(); batch !== null; batch = await dir.read()) {
      for (const entry of batch) {
        if (entry.name === '.' || entry.name === '..') continue;
        if (entries.length >= MAX_LISTED) {
          truncated = true;
          break;
        }
        entries.push(entry);
      }
      if (truncated) break;
    }
  } finally {
    await dir.close();
  }
  const byKey = (a: DirEntry, b: DirEntry): number => {
    if (sort === 'size') return a.stat.size - b.stat.size;
    if (sort === 'mtime') return a.stat.mtime - b.stat.mtime;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
  // Folders first, like every file manager; then the chosen order.
  entries.sort((a, b) => {
    const folders = Number(b.stat.kind === 'directory') - Number(a.stat.kind === 'directory');
    return folders !== 0 ? folders : desc ? -byKey(a, b) : byKey(a, b);
  });
  return { path: dir.path, entries, truncated };
}

/** Each ancestor of a canonical virtual path with its name: Home › a › b. */
export function breadcrumbs(path: string): { name: string; path: string }[] {
  const crumbs = [{ name: 'Home', path: '/' }];
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    crumbs.push({ name: part, path: at });
  }
  return crumbs;
}

/** A name typed by the user for a new or renamed entry: one component, no '/', NUL, '.' or '..'. */
export function validEntryName(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'Give a name.';
  if (name.includes('/') || name.includes('\\')) return 'A name cannot contain / or \\.';
  if (name.includes('\0')) return 'A name cannot contain a NUL byte.';
  if (Buffer.byteLength(name) > 255) return 'That name is too long.';
  return undefined;
}
