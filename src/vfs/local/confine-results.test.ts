// What the confine addon hands back: records equal to node:fs's, a stat without its resolved path on request,
// and lookup answers (ENOENT, EEXIST, ENOTDIR) without a stack trace while other failures keep theirs.
import assert from 'node:assert/strict';
import { closeSync, constants, lstatSync, statSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { confine, type NativeStat } from './confine.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = constants;

/** The fields the addon reports, in its order: those of node:fs's Stats of the same names. */
const FIELDS = ['mode', 'size', 'uid', 'gid', 'nlink', 'atimeMs', 'mtimeMs', 'ino', 'dev'] as const;

/** What node:fs reports for `path`, as the addon must report it (times in ms, to the nanosecond node keeps). */
function fsFields(path: string, follow = true): NativeStat {
  const s = follow ? statSync(path) : lstatSync(path);
  return Object.fromEntries(FIELDS.map((key) => [key, s[key]])) as unknown as NativeStat;
}

function assertSameStat(actual: NativeStat, expected: NativeStat): void {
  assert.deepEqual(Object.keys(actual), FIELDS);
  for (const key of FIELDS) {
    if (key === 'atimeMs' || key === 'mtimeMs') assert.ok(Math.abs(actual[key] - expected[key]) < 0.001, key);
    else assert.equal(actual[key], expected[key], key);
  }
}

/** Stack frames below the message line ("    at …"). */
function frames(err: Error): number {
  return (err.stack ?? '').split('\n').filter((line) => line.startsWith('    at ')).length;
}

for (const inline of [false, true]) {
  describe(`confine results (${inline ? 'inline' : 'pool'} calls)`, () => {
    let home: string;
    let root: number;

    before(async () => {
      home = await fsp.mkdtemp(join(tmpdir(), 'ferry-confine-results-'));
      await fsp.mkdir(join(home, 'dir'));
      await fsp.writeFile(join(home, 'dir', 'file'), 'twelve bytes');
      await fsp.symlink('dir/file', join(home, 'link'));
      root = await confine.openRoot(home);
      confine.setInline(root, inline);
    });
    after(async () => {
      confine.setInline(root, false);
      closeSync(root);
      await fsp.rm(home, { recursive: true, force: true });
    });

    it('reports stat, open and listing records as node:fs does', async () => {
      const followed = await confine.stat(root, 'link', true);
      assert.deepEqual(Object.keys(followed), ['stat', 'path']);
      assertSameStat(followed.stat, fsFields(join(home, 'dir', 'file')));
      assert.equal(followed.path, '/dir/file');
      assertSameStat((await confine.stat(root, 'link', false)).stat, fsFields(join(home, 'link'), false));

      const opened = await confine.open(root, 'link', O_RDONLY, 0);
      closeSync(opened.fd);
      assert.deepEqual(Object.keys(opened), ['fd', 'path', 'stat']);
      assert.equal(opened.path, '/dir/file');
      assertSameStat(opened.stat, fsFields(join(home, 'dir', 'file')));

      const dir = await confine.opendir(root, 'dir');
      assert.deepEqual(Object.keys(dir), ['dir', 'path', 'stat']);
      const entries = await confine.readdir(dir.dir, 10);
      await confine.closedir(dir.dir);
      assert.equal(dir.path, '/dir');
      assert.deepEqual(
        entries?.map((e) => Object.keys(e)),
        [['name', 'stat']],
      );
      assert.equal(entries?.[0]?.name, 'file');
      assertSameStat(entries![0]!.stat, fsFields(join(home, 'dir', 'file'), false));
    });

    it('leaves out the resolved path of a stat when asked, and only then', async () => {
      const bare = await confine.stat(root, 'link', true, false);
      assert.equal(bare.path, null);
      assertSameStat(bare.stat, fsFields(join(home, 'dir', 'file')));
      assert.equal((await confine.stat(root, 'link', true, true)).path, '/dir/file');
      assert.throws(() => confine.stat(root, 'link', true, 'no' as unknown as boolean), /expected a boolean/);
    });

    it('answers a lookup without a stack trace and keeps the frames of other failures', async () => {
      const limit = Error.stackTraceLimit;
      // One at a time: a rejection left waiting while an earlier one is awaited would count as unhandled.
      const lookups: [string, () => Promise<unknown>][] = [
        ['ENOENT', () => confine.stat(root, 'missing', true)],
        ['EEXIST', () => confine.open(root, 'dir/file', O_WRONLY | O_CREAT | O_EXCL, 0o600)],
        ['ENOTDIR', () => confine.stat(root, 'dir/file/below', true)],
      ];
      for (const [code, lookup] of lookups) {
        const err = (await lookup().then(
          () => assert.fail(`${code} expected`),
          (e: unknown) => e,
        )) as NodeJS.ErrnoException;
        assert.equal(err.code, code);
        assert.match(err.stack ?? '', new RegExp(`^Error: ${code}: `));
        assert.equal(frames(err), 0, `${code} has no frames`);
      }
      assert.equal(Error.stackTraceLimit, limit, 'the stack trace limit is restored');

      // A refusal the caller did not expect (the root itself as an entry): its frames point at the call.
      const refused = (await confine.rmdir(root, '/').then(
        () => assert.fail('EINVAL expected'),
        (e: unknown) => e,
      )) as NodeJS.ErrnoException;
      assert.equal(refused.code, 'EINVAL');
      if (inline) assert.ok(frames(refused) > 0, 'an inline call keeps its caller’s frames');
      assert.equal(Error.stackTraceLimit, limit);
    });
  });
}
