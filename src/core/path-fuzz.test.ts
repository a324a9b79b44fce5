// Fuzzes the path resolver and the chroot with hostile paths: nothing outside the home is ever resolved, read, listed or changed.
import assert from 'node:assert/strict';
import { realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FerryError } from '../errors.js';
import { RunTracker, runProperty } from '../util/fuzz-fixture.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import { HomeJail } from './home-jail.js';
import {
  assertOutsideUnchanged,
  buildHostileHome,
  hostileLinks,
  hostilePath,
  MARKER,
  resetHome,
  snapshotOutside,
} from './path-fuzz-home-fixture.js';
import { listNames, makeSessionFixture, READ, READ_WRITE, RESUME, UPLOAD } from './session-fixture.js';
import type { FileSession, OpenMode } from './types.js';
import { DEFAULT_PATH_LIMITS, resolveVirtualPath } from './virtual-path.js';

/** Any failure of a file session must be one of ours (mapped to a status), never a TypeError or RangeError. */
function assertFerryError(err: unknown, what: string): void {
  if (!(err instanceof FerryError)) {
    throw new Error(`${what} threw a non-Ferry error: ${err instanceof Error ? err.stack : String(err)}`);
  }
}

// ---- properties ------------------------------------------------------------------------------------

describe('path resolver fuzz', () => {
  it('resolveVirtualPath yields a canonical path inside the root, or refuses with InvalidPathError', async (t) => {
    const limits = DEFAULT_PATH_LIMITS;
    await runProperty(
      t,
      fc.property(hostilePath('/srv/ferry'), (input) => {
        let v: string;
        try {
          v = resolveVirtualPath(input, limits);
        } catch (err) {
          assert.ok(err instanceof FerryError && err.code === 'ERR_INVALID_PATH', String(err));
          return;
        }
        assert.ok(v.startsWith('/'), v);
        assert.ok(v === '/' || !v.endsWith('/'), v);
        assert.ok(!v.includes('\0'));
        for (const part of v.split('/').slice(1)) {
          if (v === '/') break;
          assert.ok(part !== '' && part !== '.' && part !== '..', `non-canonical component in ${v}`);
          assert.ok(Buffer.byteLength(part) <= limits.maxComponentLength);
        }
        assert.equal(resolveVirtualPath(v, limits), v, 'idempotent');
        // Joined under any home it stays there, lexically.
        assert.ok(posix.join('/srv/home', v).startsWith('/srv/home'), v);
      }),
      20_000,
      3_000,
    );
  });

  it('HomeJail never resolves a hostile path to something outside the home', async (t) => {
    const fx = await makeSessionFixture();
    try {
      await buildHostileHome(fx.base, fx.homeDir);
      const jail = new HomeJail(new LocalFs(), fx.homeDir);
      await jail.ready();
      const home = jail.realHome;
      const inside = (p: string) => p === home || p.startsWith(`${home}/`);
      await runProperty(
        t,
        fc.asyncProperty(hostilePath(fx.base), fc.boolean(), async (input, followLast) => {
          let v: string;
          try {
            v = resolveVirtualPath(input);
          } catch {
            return;
          }
          let real: string;
          // resolveEntry (an upload's or a download's open) answers as resolve(v, true) does, or fails as it does.
          const entry = followLast
            ? await jail.resolveEntry(v).then(
                (e) => e.real,
                (err: unknown) => err,
              )
            : undefined;
          try {
            real = await jail.resolve(v, followLast);
          } catch (err) {
            assertFerryError(err, `resolve(${JSON.stringify(v)})`);
            if (followLast) assertFerryError(entry, `resolveEntry(${JSON.stringify(v)})`);
            return;
          }
          assert.ok(inside(real), `${v} resolved to ${real}`);
          if (followLast) assert.equal(entry, real, `resolveEntry(${JSON.stringify(v)})`);
          // What the operation will touch really is inside: the parent always, the entry itself when followed.
          const realParent = await realpath(posix.dirname(real)).catch(() => undefined);
          if (realParent !== undefined && real !== home) {
            assert.ok(inside(realParent), `${v}: parent is ${realParent}`);
          }
          if (followLast) {
            const target = await realpath(real).catch(() => undefined);
            if (target !== undefined) assert.ok(inside(target), `${v}: target is ${target}`);
          }
        }),
        5_000,
        4_000,
      );
    } finally {
      await fx.cleanup();
    }
  });

  it('a file session on a home full of escaping symlinks never reads, lists or changes anything outside', async (t) => {
    const fx = await makeSessionFixture();
    const runs = new RunTracker();
    try {
      await buildHostileHome(fx.base, fx.homeDir);
      const before = await snapshotOutside(fx.base, fx.homeDir);
      const path = hostilePath(fx.base);
      const operation = fc.oneof(
        fc.record({ op: fc.constant('realpath' as const), path }),
        fc.record({ op: fc.constantFrom('stat' as const, 'lstat' as const), path }),
        fc.record({
          op: fc.constant('open' as const),
          path,
          mode: fc.constantFrom<OpenMode>(READ, UPLOAD, RESUME, READ_WRITE),
        }),
        fc.record({ op: fc.constant('list' as const), path }),
        fc.record({ op: fc.constant('readlink' as const), path }),
        fc.record({ op: fc.constant('symlink' as const), path, target: path }),
        fc.record({ op: fc.constant('hardlink' as const), path, target: path }),
        fc.record({ op: fc.constant('rename' as const), path, target: path, overwrite: fc.boolean() }),
        fc.record({
          op: fc.constantFrom('mkdir' as const, 'remove' as const, 'rmdir' as const, 'setstat' as const),
          path,
        }),
      );
      await runProperty(
        t,
        fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 12 }), (ops) =>
          runs.track(
            (async () => {
              await resetHome(fx.base, fx.homeDir);
              const session = fx.open();
              try {
                for (const op of ops) await applyOperation(session, op, fx.base);
              } finally {
                await session.close();
              }
              assertOutsideUnchanged(before, await snapshotOutside(fx.base, fx.homeDir));
            })(),
          ),
        ),
        2_000,
        8_000,
      );
    } finally {
      await runs.settled();
      await fx.cleanup();
    }
  });
});

type Operation =
  | {
      op: 'realpath' | 'stat' | 'lstat' | 'list' | 'readlink' | 'mkdir' | 'remove' | 'rmdir' | 'setstat';
      path: string;
    }
  | { op: 'open'; path: string; mode: OpenMode }
  | { op: 'symlink' | 'hardlink'; path: string; target: string }
  | { op: 'rename'; path: string; target: string; overwrite: boolean };

/** Runs one operation; a refusal is fine, anything returned is checked for leaks. */
async function applyOperation(session: FileSession, o: Operation, base: string): Promise<void> {
  const what = `${o.op}(${JSON.stringify(o.path)})`;
  try {
    switch (o.op) {
      case 'realpath': {
        const v = await session.realpath(o.path);
        assert.ok(v.startsWith('/'), `${what} = ${v}`);
        // The real location of the home is never disclosed (unless the client typed it).
        if (!o.path.includes(base)) assert.ok(!v.includes(base), `${what} disclosed ${v}`);
        return;
      }
      case 'stat':
      case 'lstat':
        await session[o.op](o.path);
        return;
      case 'open': {
        const handle = await session.openFile(o.path, o.mode);
        try {
          if (o.mode.read) {
            const data = await handle.read(0, 4096);
            assert.ok(!data.toString('latin1').includes(MARKER), `${what} read a file outside the home`);
          }
          if (o.mode.write) await handle.write(0, Buffer.from('fuzz'));
        } finally {
          await handle.close();
        }
        return;
      }
      case 'list': {
        for (const name of await listNames(session, o.path)) {
          assert.ok(!name.includes(MARKER), `${what} listed the sentinel directory`);
          assert.ok(name !== 'other.txt', `${what} listed another user's home`);
        }
        return;
      }
      case 'readlink': {
        const text = await session.readlink(o.path);
        // Link text is shown as stored (the planted texts name host paths on purpose); never where a link leads.
        const planted = hostileLinks(base).some(([target]) => target === text);
        assert.ok(planted || !text.includes(base), `${what} disclosed ${text}`);
        return;
      }
      case 'symlink':
        await session.symlink(o.target, o.path);
        return;
      case 'hardlink':
        await session.hardlink(o.target, o.path);
        return;
      case 'rename':
        await session.rename(o.path, o.target, { overwrite: o.overwrite });
        return;
      case 'mkdir':
      case 'remove':
      case 'rmdir':
        await session[o.op](o.path);
        return;
      case 'setstat':
        await session.setstat(o.path, { mode: 0o600, mtime: 1_000_000, atime: 1_000_000, size: 1 });
        return;
    }
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assertFerryError(err, what);
  }
}
