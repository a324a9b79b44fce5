// Two sessions on one home, random interleavings of symlink/rename/mkdir/rmdir against opens, hashes and listings: nothing outside is read, hashed, written or created.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FerryError } from '../errors.js';
import { RunTracker, runProperty } from '../util/fuzz-fixture.js';
import { snapshotOutside } from './path-fuzz-home-fixture.js';
import { listNames, makeSessionFixture, READ, UPLOAD } from './session-fixture.js';
import type { FileSession, OpenMode } from './types.js';

/** The outside file's name: unlike 'secret.txt', no operation ever creates it inside the home. */
const OUTSIDE_FILE = 'outside-only-canary.txt';
/** Unguessable content of every file outside the home. */
const MARKER = `ferry-race-sentinel-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 24)}`;
const LEAK_NAME = `leak-${MARKER}`;
/** What the fuzzer writes into the home's files. */
const INSIDE = 'inside, sixteen+ bytes';
const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
/**
 * Digests a server could only compute by reading an outside file: whole, the prefixes the fuzzer asks for,
 * and a resume's digest (the prefix of the file's size at open, then the 'more' the fuzzer appends).
 */
const MARKER_DIGESTS = new Set(
  [
    MARKER,
    ...[4, 8, 16, INSIDE.length].flatMap((n) => [MARKER.slice(0, n), `${MARKER.slice(0, n)}more`]),
  ].map(sha256Hex),
);
/** Opened on an existing file without O_CREAT/O_TRUNC: what resumes and random writes send. */
const WRITE_ONLY: OpenMode = { ...READ, read: false, write: true };

/**
 * base/outside/<OUTSIDE_FILE>, base/outside/<LEAK_NAME>/f, base/homes/bob/other.txt   outside: untouched, unseen
 * base/homes/alice/                                                            the home both sessions share
 */
async function buildOutside(base: string): Promise<void> {
  await mkdir(join(base, 'outside', LEAK_NAME), { recursive: true });
  await writeFile(join(base, 'outside', OUTSIDE_FILE), MARKER);
  await writeFile(join(base, 'outside', LEAK_NAME, 'f'), MARKER);
  await mkdir(join(base, 'homes', 'bob'), { recursive: true });
  await writeFile(join(base, 'homes', 'bob', 'other.txt'), MARKER);
}

type Snapshot = Awaited<ReturnType<typeof snapshotOutside>>;

function outsideChanges(before: Snapshot, after: Snapshot): string[] {
  const lines: string[] = [];
  for (const [path, entry] of after) {
    const old = before.get(path);
    if (!old) lines.push(`created ${path}`);
    else if (JSON.stringify(old) !== JSON.stringify(entry)) lines.push(`changed ${path}`);
  }
  for (const path of before.keys()) if (!after.has(path)) lines.push(`removed ${path}`);
  return lines;
}

/**
 * The names the fuzzer plays with. `climb` '..' from the deep directory reach exactly the home root, so
 * session.symlink accepts link texts made of them; moved (or with a directory moved) shallower, they climb out.
 */
function vocabulary(base: string, climb: number) {
  const deep = `/${Array.from({ length: climb }, (_, i) => `n${i + 1}`).join('/')}`;
  const up = '../'.repeat(climb);
  const texts = [
    `${up}${join(base, 'outside').slice(1)}`,
    `${up}${join(base, 'outside', OUTSIDE_FILE).slice(1)}`,
    `${up}${join(base, 'homes', 'bob', 'other.txt').slice(1)}`,
    `${up}${join(base, 'homes', 'bob').slice(1)}`,
    'a',
    '../a',
    'top.txt',
    '.ferry-part.up.bin',
    '..',
  ];
  // Where a moved link (or the moved directory holding them) climbs out: existing files and new names.
  const shallow = ['/top.txt', '/a/f.txt', '/x', '/a/x'];
  // What gets opened, hashed and listed: those, and what lies below them once a directory moved there.
  const used = [...shallow, '/x/f.txt', '/x/l2', '/x/secret.txt', '/a/x/secret.txt', '/up.bin', '/x/up.bin'];
  // The stored links and the directory holding them.
  const deepOnes = [`${deep}/l1`, `${deep}/l2`, deep];
  const paths = [...used, ...deepOnes, '/', '/a', '/a/b', '/n1', posix.dirname(deep)];
  return { deep, texts, paths, shallow, used, deepOnes };
}

type Op =
  | { op: 'symlink'; text: string; path: string }
  | { op: 'rename'; path: string; to: string; overwrite: boolean }
  | { op: 'moveLink'; path: string; to: string; overwrite: boolean }
  | { op: 'mkdir' | 'rmdir' | 'remove' | 'read' | 'upload' | 'writeHash' | 'list' | 'stat'; path: string };

type Step = Op & { yields: number };

function stepArbitrary(v: ReturnType<typeof vocabulary>): fc.Arbitrary<Step> {
  const path = fc.constantFrom(...v.paths);
  const used = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...v.shallow) },
    { weight: 1, arbitrary: path },
  );
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('symlink' as const), text: fc.constantFrom(...v.texts), path }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('moveLink' as const),
        path: fc.constantFrom(...v.deepOnes),
        to: fc.constantFrom(...v.shallow),
        overwrite: fc.oneof(
          { weight: 3, arbitrary: fc.constant(true) },
          { weight: 1, arbitrary: fc.constant(false) },
        ),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('rename' as const), path, to: path, overwrite: fc.boolean() }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constantFrom('mkdir' as const, 'rmdir' as const, 'remove' as const),
        path,
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constantFrom(
          'read' as const,
          'upload' as const,
          'writeHash' as const,
          'list' as const,
          'stat' as const,
        ),
        path: used,
      }),
    },
  );
  return fc.tuple(op, fc.nat({ max: 4 })).map(([o, yields]) => ({ ...o, yields }));
}

const yieldTimes = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Runs one step; refusals are fine, anything returned is checked for what lies outside. */
async function applyStep(session: FileSession, s: Step, who: string): Promise<void> {
  const what = `${who} ${s.op}(${JSON.stringify(s.path)}${'to' in s ? `, ${JSON.stringify(s.to)}` : ''}${'text' in s ? ` -> ${JSON.stringify(s.text)}` : ''})`;
  await yieldTimes(s.yields);
  try {
    switch (s.op) {
      case 'symlink':
        await session.symlink(s.text, s.path);
        return;
      case 'rename':
      case 'moveLink':
        await session.rename(s.path, s.to, { overwrite: s.overwrite });
        return;
      case 'mkdir':
      case 'rmdir':
      case 'remove':
        await session[s.op](s.path);
        return;
      case 'stat':
        await session.stat(s.path);
        return;
      case 'read': {
        const handle = await session.openFile(s.path, READ);
        try {
          const data = await handle.read(0, 4096);
          assert.ok(!data.toString('latin1').includes(MARKER), `${what} read a file outside the home`);
          const digest = (await handle.hash('sha256', 0, 0)).toString('hex');
          assert.ok(!MARKER_DIGESTS.has(digest), `${what} hashed a file outside the home`);
        } finally {
          await handle.close();
        }
        return;
      }
      case 'upload': {
        const handle = await session.openFile(s.path, UPLOAD);
        try {
          await handle.write(4, Buffer.from('late'));
          await yieldTimes(s.yields);
          await handle.write(0, Buffer.from('fuzz'));
        } finally {
          await handle.close();
        }
        return;
      }
      case 'writeHash': {
        // The handle stays open while the other session moves things: later by-name reopens must not follow.
        const handle = await session.openFile(s.path, WRITE_ONLY);
        try {
          // Milliseconds, not turns: long enough for the other session's rename (several fs calls) to land.
          await new Promise((resolve) => setTimeout(resolve, s.yields));
          for (const [offset, length] of [
            [0, 0],
            [0, 4],
            [0, 16],
          ] as const) {
            const digest = (await handle.hash('sha256', offset, length)).toString('hex');
            assert.ok(
              !MARKER_DIGESTS.has(digest),
              `${what}: check-file-handle hashed a file outside the home`,
            );
          }
          const size = (await handle.stat()).size;
          await handle.write(size, Buffer.from('more'));
        } finally {
          await handle.close();
        }
        return;
      }
      case 'list': {
        for (const name of await listNames(session, s.path)) {
          assert.ok(
            name !== LEAK_NAME && name !== OUTSIDE_FILE && name !== 'other.txt',
            `${what} listed ${name}, which is outside the home`,
          );
        }
        return;
      }
    }
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    if (!(err instanceof FerryError)) {
      throw new Error(`${what} threw a non-Ferry error: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
}

describe('path race fuzz', () => {
  it('two sessions interleaving symlink/rename/mkdir/rmdir with opens, hashes and listings never reach outside the home', async (t) => {
    const fx = await makeSessionFixture();
    const runs = new RunTracker();
    try {
      await buildOutside(fx.base);
      await mkdir(fx.homeDir, { recursive: true, mode: 0o700 });
      const homeDepth = (await realpath(fx.homeDir)).split('/').filter(Boolean).length;
      // Two more than the home's depth: a link made in the deep directory and moved to depth <= 2 climbs out.
      const climb = homeDepth + 2;
      const words = vocabulary(await realpath(fx.base), climb);
      const { deep, texts } = words;
      let before = await snapshotOutside(fx.base, fx.homeDir);
      const steps = fc.array(stepArbitrary(words), { minLength: 1, maxLength: 10 });
      await runProperty(
        t,
        fc.asyncProperty(steps, steps, (first, second) =>
          runs.track(
            (async () => {
              await rm(fx.homeDir, { recursive: true, force: true });
              await mkdir(join(fx.homeDir, deep), { recursive: true, mode: 0o700 });
              await mkdir(join(fx.homeDir, 'a', 'b'), { recursive: true });
              for (const file of ['top.txt', 'a/f.txt', `${deep}/f.txt`]) {
                await writeFile(join(fx.homeDir, file), INSIDE);
              }
              const one = fx.open();
              const two = fx.open();
              const events = fx.events.length;
              try {
                // Stored links whose text climbs exactly to the home root: accepted where they are made.
                await one.symlink(texts[0]!, `${deep}/l1`).catch(() => undefined);
                await one.symlink(texts[1]!, `${deep}/l2`).catch(() => undefined);
                const results = await Promise.allSettled([
                  (async () => {
                    for (const s of first) await applyStep(one, s, 'session 1');
                  })(),
                  (async () => {
                    for (const s of second) await applyStep(two, s, 'session 2');
                  })(),
                ]);
                for (const r of results) if (r.status === 'rejected') throw r.reason;
              } finally {
                await one.close();
                await two.close();
              }
              for (const event of fx.events.slice(events)) {
                if (event.type === 'transfer' && event.sha256 !== undefined) {
                  assert.ok(
                    !MARKER_DIGESTS.has(event.sha256),
                    `a transfer event carries the digest of an outside file`,
                  );
                }
              }
              const changes = outsideChanges(before, await snapshotOutside(fx.base, fx.homeDir));
              if (changes.length > 0) {
                // Put the outside back so that shrinking replays against the same world.
                await rm(join(fx.base, 'outside'), { recursive: true, force: true });
                await rm(join(fx.base, 'homes', 'bob'), { recursive: true, force: true });
                await buildOutside(fx.base);
                before = await snapshotOutside(fx.base, fx.homeDir);
              }
              assert.deepEqual(changes, [], 'changed outside the home');
            })(),
          ),
        ),
        300,
        8_000,
      );
    } finally {
      await runs.settled();
      await fx.cleanup();
    }
  });
});
