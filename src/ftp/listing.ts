// Directory listings as FTP clients read them: LIST's `ls -l` lines, NLST's names, and RFC 3659 MLSx facts.
import { createHash } from 'node:crypto';
import type { PermissionPolicy } from '../core/permissions.js';
import type { FileStat } from '../core/types.js';
import { joinVirtual, virtualDirname } from '../core/virtual-path.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** YYYYMMDDHHMMSS in UTC (MDTM, MLSx `modify`). */
export function ftpTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function modeString(stat: FileStat): string {
  const type = stat.kind === 'directory' ? 'd' : stat.kind === 'symlink' ? 'l' : '-';
  let bits = '';
  for (let shift = 6; shift >= 0; shift -= 3) {
    const b = (stat.mode >> shift) & 7;
    bits += `${b & 4 ? 'r' : '-'}${b & 2 ? 'w' : '-'}${b & 1 ? 'x' : '-'}`;
  }
  return type + bits;
}

/** One `ls -l` line as every FTP client's LIST parser expects it (the Unix format). */
export function listLine(name: string, stat: FileStat, now = Date.now()): string {
  const date = new Date(stat.mtime * 1000);
  const recent = Math.abs(now - date.getTime()) < 180 * 86_400_000;
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const when = recent
    ? `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`
    : ` ${date.getUTCFullYear()}`;
  const owner = (stat.owner || String(stat.uid)).slice(0, 16);
  const group = (stat.group || String(stat.gid)).slice(0, 16);
  return `${modeString(stat)} ${String(stat.nlink).padStart(3)} ${owner.padEnd(8)} ${group.padEnd(8)} ${String(stat.size).padStart(12)} ${MONTHS[date.getUTCMonth()]} ${day} ${when} ${name}`;
}

/**
 * RFC 3659 facts of `path`: `perm` says what this user may do there by the permission map (§7.5.5), `unique`
 * is derived from the virtual path (the backend's inode is not exposed).
 */
export function mlsxFacts(
  path: string,
  stat: FileStat,
  policy: PermissionPolicy,
  type: 'file' | 'dir' | 'cdir' | 'pdir' = stat.kind === 'directory' ? 'dir' : 'file',
): string {
  const parent = virtualDirname(path);
  const perm: string[] = [];
  if (stat.kind === 'directory') {
    if (policy.has('upload', path)) perm.push('c');
    if (policy.has('delete_dirs', parent)) perm.push('d');
    perm.push('e');
    if (policy.has('rename_dirs', parent)) perm.push('f');
    if (policy.has('list', path)) perm.push('l');
    if (policy.has('create_dirs', path)) perm.push('m');
    if (policy.has('delete_files', path)) perm.push('p');
  } else {
    if (policy.has('upload', parent) && policy.has('overwrite', parent)) perm.push('a', 'w');
    if (policy.has('delete_files', parent)) perm.push('d');
    if (policy.has('rename_files', parent)) perm.push('f');
    if (policy.has('download', parent)) perm.push('r');
  }
  const unique = createHash('sha256').update(path).digest('hex').slice(0, 16);
  const size = stat.kind === 'directory' ? '' : `size=${stat.size};`;
  return `type=${type};${size}modify=${ftpTime(stat.mtime)};perm=${perm.join('')};unique=${unique};`;
}

/** The facts and name of a directory entry, for MLSD. */
export function mlsdLine(dir: string, name: string, stat: FileStat, policy: PermissionPolicy): string {
  const type = name === '.' ? 'cdir' : name === '..' ? 'pdir' : undefined;
  const path = name === '.' ? dir : name === '..' ? virtualDirname(dir) : joinVirtual(dir, name);
  return `${mlsxFacts(path, stat, policy, type)} ${name}`;
}
