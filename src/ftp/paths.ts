// Client path arguments as virtual paths of the session: relative to the working directory, '..' never above '/'.
// The core resolves the result inside the user's home (the chroot), symlinks included.
import { resolveVirtualPath } from '../core/virtual-path.js';
import type { CommandContext } from './context.js';

export function virtualPath(ctx: CommandContext, arg: string): string {
  return resolveVirtualPath(arg.startsWith('/') ? arg : `${ctx.cwd}/${arg}`);
}

/** `"path"` as a 257 reply quotes it (RFC 959: a quote inside is doubled). */
export function quoted(path: string): string {
  return `"${path.replaceAll('"', '""')}"`;
}
