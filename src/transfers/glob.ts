// File name patterns as shells and OpenSSH's sftp know them: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, comma-separated lists.
import { InvalidArgumentError } from '../errors.js';

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** One glob as an anchored regular expression; `*` and `?` never match '/'. A leading dot must be explicit. */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRegExp(pattern[++i]!);
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else out += escapeRegExp(c);
  }
  return new RegExp(`^${out}$`, 'u');
}

export function hasGlob(text: string): boolean {
  return /[*?[]/.test(text);
}

/** A matcher for a comma-separated pattern list ('' or '*' matches every name not starting with '.'). */
export function fileMatcher(patterns: string): (name: string) => boolean {
  const list = patterns
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (list.some((p) => p.includes('/')))
    throw new InvalidArgumentError(`pattern '${patterns}' must match file names, not paths (no '/')`);
  const regexps = (list.length === 0 ? ['*'] : list).map((p) => ({
    re: globToRegExp(p),
    dot: p.startsWith('.'),
  }));
  return (name) => regexps.some(({ re, dot }) => (dot || !name.startsWith('.')) && re.test(name));
}
