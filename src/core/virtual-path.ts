// Lexical resolution of a user's virtual paths ('/' is the home) and the reserved names of in-progress uploads.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { InvalidPathError } from '../errors.js';

export interface PathLimits {
  /** Longest accepted path in bytes (input and result). */
  readonly maxPathLength: number;
  /** Longest accepted component in bytes. */
  readonly maxComponentLength: number;
}

export const DEFAULT_PATH_LIMITS: PathLimits = { maxPathLength: 4096, maxComponentLength: 255 };

/**
 * Canonical absolute virtual path: relative input is taken from '/', a leading '~' means '/', '.' and
 * empty components vanish, '..' pops but never above '/'. No filesystem access, so it cannot be fooled
 * by symlinks; the chroot check on the real path happens separately (home-jail.ts).
 */
export function resolveVirtualPath(input: string, limits: PathLimits = DEFAULT_PATH_LIMITS): string {
  if (input.includes('\0')) throw new InvalidPathError('Path contains a NUL byte');
  if (Buffer.byteLength(input) > limits.maxPathLength) throw new InvalidPathError('Path too long');
  const parts = input.split('/');
  if (parts[0] === '~') parts.shift();
  const out: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    if (Buffer.byteLength(part) > limits.maxComponentLength) {
      throw new InvalidPathError('Path component too long');
    }
    out.push(part);
  }
  return `/${out.join('/')}`;
}

export function virtualDirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function virtualBasename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function joinVirtual(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Atomic uploads are written to `.ferry-part.<name>` beside the target; these names are never shown. */
export const PARTIAL_PREFIX = '.ferry-part.';

export function isReservedName(name: string): boolean {
  return name.startsWith(PARTIAL_PREFIX);
}

/** True when any component of a canonical virtual path is a reserved (partial-upload) name. */
export function hasReservedComponent(path: string): boolean {
  return path.split('/').some(isReservedName);
}

/**
 * The partial's name for a target, deterministic so a later session finds it to resume. Names too long
 * to carry the prefix use a digest instead (still deterministic, still hidden).
 */
export function partialNameFor(name: string, maxComponentLength = 255): string {
  const plain = PARTIAL_PREFIX + name;
  if (Buffer.byteLength(plain) <= maxComponentLength) return plain;
  return `${PARTIAL_PREFIX}${createHash('sha256').update(name).digest('hex')}`;
}

/** The partial beside a backend path: one name for every writer (sessions, SCP, transfer jobs). */
export function partialPathFor(path: string, maxComponentLength = 255): string {
  return posix.join(posix.dirname(path), partialNameFor(posix.basename(path), maxComponentLength));
}
