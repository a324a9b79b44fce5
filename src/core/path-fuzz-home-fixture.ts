// The hostile world the path fuzz (path-fuzz.test.ts) runs in: a home full of links that try to leave it, with
// sentinel files outside that nothing may read, list or change, and the hostile paths aimed at that home.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import fc from 'fast-check';

// ---- the hostile home ------------------------------------------------------------------------------

/** Unguessable text in every file outside the home: no read may ever return it. */
export const MARKER = `ferry-sentinel-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`;
/** A name inside the sentinel directory: no listing may ever show it. */
const LEAK_NAME = `leak-${MARKER}`;

/**
 * base/
 *   sentinel/secret.txt, sentinel/<LEAK_NAME>/f      outside: must stay untouched and unseen
 *   homes/bob/other.txt                              another user's home, outside too
 *   homes/alice/                                     the home, full of links that try to leave
 */
export async function buildHostileHome(base: string, home: string): Promise<void> {
  const sentinel = join(base, 'sentinel');
  await mkdir(join(sentinel, LEAK_NAME), { recursive: true });
  await writeFile(join(sentinel, 'secret.txt'), MARKER);
  await writeFile(join(sentinel, LEAK_NAME, 'f'), MARKER);
  await mkdir(join(base, 'homes', 'bob'), { recursive: true });
  await writeFile(join(base, 'homes', 'bob', 'other.txt'), MARKER);
  await resetHome(base, home);
}

export async function resetHome(base: string, home: string): Promise<void> {
  await rm(home, { recursive: true, force: true });
  await mkdir(join(home, 'dir', 'sub'), { recursive: true, mode: 0o700 });
  await writeFile(join(home, 'inside.txt'), 'inside');
  await writeFile(join(home, 'dir', 'sub', 'file.txt'), 'deep inside');
  for (const [target, name] of hostileLinks(base)) await symlink(target, join(home, name));
}

/** Links planted in the home whose text tries to leave it (the backend reads every text inside the home). */
export function hostileLinks(base: string): Array<[target: string, name: string]> {
  return [
    ['../../sentinel', 'out'],
    [join(base, 'sentinel'), 'abs'],
    [join(base, 'sentinel', 'secret.txt'), 'abs-file'],
    ['../../sentinel/created-by-fuzz', 'dangling'],
    [join(base, 'sentinel', 'new-dir', 'x'), 'dangling-dir'],
    ['../bob', 'bob'],
    ['loop', 'loop'],
    ['chain2', 'chain1'],
    ['../../sentinel', 'chain2'],
    ['dir/sub', 'inside-link'],
    ['/', 'root'],
    ['../..', join('dir', 'up')],
    ['../../../sentinel/secret.txt', join('dir', 'sub', 'up-file')],
  ];
}

interface Entry {
  kind: string;
  mode: number;
  size: number;
  nlink: number;
  mtimeMs: number;
  ctimeMs: number;
  content?: string;
}

/** Everything under `base` except the home: kind, mode, size, times, content digest, link text. */
export async function snapshotOutside(base: string, home: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (path === home) continue;
      const st = await lstat(path);
      const entry: Entry = {
        kind: st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isFile() ? 'file' : 'other',
        mode: st.mode,
        size: st.size,
        nlink: st.nlink,
        mtimeMs: st.mtimeMs,
        ctimeMs: st.ctimeMs,
      };
      if (st.isFile())
        entry.content = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
      if (st.isSymbolicLink()) entry.content = await readlink(path);
      // The home's parent changes whenever resetHome() recreates the home; new siblings still show up as entries.
      if (path === posix.dirname(home)) entry.mtimeMs = entry.ctimeMs = entry.nlink = 0;
      out.set(path, entry);
      if (st.isDirectory()) await walk(path);
    }
  };
  await walk(base);
  return out;
}

export function assertOutsideUnchanged(before: Map<string, Entry>, after: Map<string, Entry>): void {
  for (const [path, entry] of after) {
    assert.ok(before.has(path), `created outside the home: ${path}`);
    assert.deepEqual(entry, before.get(path), `changed outside the home: ${path}`);
  }
  for (const path of before.keys()) assert.ok(after.has(path), `removed outside the home: ${path}`);
}

// ---- hostile paths -----------------------------------------------------------------------------------

const NAMES_IN_HOME = [
  'out',
  'abs',
  'abs-file',
  'dangling',
  'dangling-dir',
  'bob',
  'loop',
  'chain1',
  'chain2',
  'inside-link',
  'root',
  'dir',
  'sub',
  'up',
  'up-file',
  'inside.txt',
  'file.txt',
  'secret.txt',
  'sentinel',
  'homes',
  'created-by-fuzz',
  '.ferry-part.inside.txt',
];

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES_IN_HOME) },
  { weight: 4, arbitrary: fc.constantFrom('..', '.', '', '~', '...', '~alice', '~root') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '..\\..',
      '%2e%2e',
      '%2f',
      '\u2025',
      '\uff0e\uff0e',
      ' ..',
      '.. ',
      '\0',
      'x\0y',
      '\n',
      '\uD800',
      'é',
      'a'.repeat(255),
      'a'.repeat(256),
      'é'.repeat(128),
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
);

/** Relative and absolute paths built from names that lead out, climbs, odd encodings and junk. */
export function hostilePath(base: string): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 10,
      arbitrary: fc
        .tuple(fc.constantFrom('', '/', '~/', './', '//'), fc.array(segment, { maxLength: 8 }))
        .map(([start, parts]) => start + parts.join('/')),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        join(base, 'sentinel', 'secret.txt'),
        join(base, 'sentinel'),
        join(base, 'homes', 'bob', 'other.txt'),
        `/../..${base}/sentinel/secret.txt`,
        '/etc/passwd',
        '../../../../../../etc/passwd',
        '../'.repeat(2000),
        `${'a/'.repeat(2100)}x`,
        '/'.repeat(5000),
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  );
}
