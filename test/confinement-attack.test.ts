// Issue 12 played against a real `ferry serve` running as root, classes 1 and 2: links that change meaning when
// moved, and check-then-use races between two connections (classes 3 and 4 are in confinement-attack-partials).
//
// Every test ends with the same invariant: nothing outside the attacker's home was read (no canary bytes or
// canary digest in any reply, no 1-byte hash oracle), hashed (audit sha256 of an outside file), written or
// created (the tree outside the homes is unchanged). Races run for FERRY_ATTACK_RACE_SECONDS (default 3) each.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { describe, test } from 'node:test';
import {
  attackSuite,
  auditedUploadSha,
  type Canary,
  canaries,
  hex,
  type Lab,
  NEEDS_ROOT,
  RACE_MS,
  sha256,
  show,
} from './helpers/confinement-lab.js';
import { attempt, FXF, type RawSftp } from './helpers/raw-sftp.js';

const depthOf = (virtualDir: string): number => virtualDir.split('/').filter(Boolean).length;

/**
 * Issue 12, class 1: a relative link made deep in the home whose text climbs exactly to the home root (so
 * `symlink` accepts it), then moved so that it is `dest`, where the same text climbs out to `outsideTarget`:
 * either the link itself is renamed, or (`directory`) the deep directory holding it is renamed to `dest`'s
 * directory, which must not exist. Returns why it could not be planted, or undefined once it is in place.
 */
async function plantEscapingLink(
  lab: Lab,
  c: RawSftp,
  workshop: string,
  dest: string,
  outsideTarget: string,
  move: 'link' | 'directory' = 'link',
): Promise<string | undefined> {
  const climb = lab.homeDepth + depthOf(posix.dirname(dest)) + 1;
  let dir = workshop;
  await attempt(() => c.mkdir(dir));
  for (let i = 2; i <= climb; i++) {
    dir = `${dir}/z${i}`;
    await attempt(() => c.mkdir(dir));
  }
  const text = '../'.repeat(climb) + outsideTarget.slice(1);
  const link = `${dir}/${move === 'link' ? 'l' : posix.basename(dest)}`;
  const made = await attempt(() => c.symlink(text, link));
  if (!made.ok) return `symlink ${link} -> ${text} refused: ${made.error.message}`;
  const moved = await attempt(() =>
    move === 'link' ? c.posixRename(link, dest) : c.rename(dir, posix.dirname(dest)),
  );
  if (!moved.ok) return `moving the ${move} to ${dest} refused: ${moved.error.message}`;
  return undefined;
}

/**
 * What check-file-handle on a write-only handle of `own` bytes gives away once its name is a link to
 * `canary`: the whole-file digest, and 1-byte digests (256 possible answers, so each decodes to the byte read).
 */
async function probeWriteOnlyHandle(
  c: RawSftp,
  handle: Buffer,
  own: Buffer,
  canary: Canary,
): Promise<string[]> {
  const findings: string[] = [];
  const whole = await attempt(() => c.checkFileHandle(handle, 0, 0));
  if (whole.ok && whole.value.equals(sha256(canary.content))) {
    findings.push(`${canary.name}: check-file-handle returned its whole-file sha256`);
  } else if (whole.ok && !whole.value.equals(sha256(own))) {
    findings.push(`${canary.name}: check-file-handle hashed something that is not the handle's file`);
  }
  const decoded: number[] = [];
  for (let offset = 0; offset < Math.min(32, canary.content.length); offset++) {
    const one = await attempt(() => c.checkFileHandle(handle, offset, 1));
    if (!one.ok) break;
    const byte = [...Array(256).keys()].find((b) => sha256(Buffer.from([b])).equals(one.value));
    if (byte === undefined) break;
    decoded.push(byte);
  }
  const read = Buffer.from(decoded);
  if (!read.equals(own.subarray(0, read.length))) {
    const matches = canary.content.subarray(0, read.length).equals(read);
    findings.push(
      `${canary.name}: 1-byte check-file-handle hashes decode to ${show(read)}${matches ? ' = its first bytes' : ''}`,
    );
  }
  return findings;
}

/** Swaps `dir` with `spare` (an escaping link) and back, by renames, until `stop` is set. */
async function swapLoop(c: RawSftp, base: string, until: () => boolean): Promise<number> {
  let swaps = 0;
  while (!until()) {
    await attempt(() => c.rename(`${base}/dir`, `${base}/real`));
    await attempt(() => c.rename(`${base}/spare`, `${base}/dir`));
    await attempt(() => c.rename(`${base}/dir`, `${base}/spare`));
    await attempt(() => c.rename(`${base}/real`, `${base}/dir`));
    swaps++;
  }
  return swaps;
}

describe('issue 12: confinement under attack, ferry serve as root (classes 1 and 2)', {
  skip: NEEDS_ROOT,
}, () => {
  const suite = attackSuite();
  const { connect, assertConfined } = suite;

  describe('class 1: a stored symlink that changes meaning when moved', () => {
    test('check-file-handle on a write-only handle does not hash (or read, byte by byte) what a moved link points to', async () => {
      const c = await connect();
      await c.mkdir('/c1');
      const own = Buffer.alloc(4096);
      const findings: string[] = [];
      const targets = (await canaries(suite.lab)).filter(
        (k) =>
          ![
            "bob's upload in progress",
            "carol's no-download file",
            'the canary named like the inside file',
          ].includes(k.name),
      );
      for (const [i, canary] of targets.entries()) {
        const dest = `/c1/f${i}`;
        await c.put(dest, own);
        const handle = await c.open(dest, FXF.WRITE);
        const planted = await plantEscapingLink(suite.lab, c, `/c1/w${i}`, dest, canary.path);
        if (planted !== undefined) {
          await c.close(handle);
          continue;
        }
        findings.push(...(await probeWriteOnlyHandle(c, handle, own, canary)));
        await attempt(() => c.close(handle));
        await attempt(() => c.remove(dest));
      }
      await assertConfined('check-file-handle followed a moved link out of the home', findings, [c]);
    });

    test("check-file-handle on a write-only handle does not follow a link whose directory was moved over the handle's", async () => {
      const c = await connect();
      await c.mkdir('/c2');
      const own = Buffer.alloc(4096);
      const findings: string[] = [];
      const targets = (await canaries(suite.lab)).filter((k) =>
        ['the canary outside the data dir', 'master.key'].includes(k.name),
      );
      for (const [i, canary] of targets.entries()) {
        await c.mkdir(`/c2/d${i}`);
        const dest = `/c2/d${i}/f`;
        await c.put(dest, own);
        const handle = await c.open(dest, FXF.WRITE);
        await c.rename(`/c2/d${i}`, `/c2/old${i}`);
        const planted = await plantEscapingLink(suite.lab, c, `/c2/w${i}`, dest, canary.path, 'directory');
        if (planted === undefined) findings.push(...(await probeWriteOnlyHandle(c, handle, own, canary)));
        await attempt(() => c.close(handle));
      }
      await assertConfined('check-file-handle followed a link moved with its directory', findings, [c]);
    });

    test('a link moved shallower by renaming its directory is not followed by open, stat, check-file-name or listing', async () => {
      const c = await connect();
      const outsideCanary = join(suite.lab.outside, 'canary.txt');
      // /m1/a/b/.../l climbs exactly to the home root; renaming the deepest directory to /m1-top makes it climb out.
      const climb = suite.lab.homeDepth + 2;
      let dir = '/m1';
      await c.mkdir(dir);
      for (let i = 2; i <= climb; i++) {
        dir = `${dir}/a${i}`;
        await c.mkdir(dir);
      }
      const made = await attempt(() => c.symlink('../'.repeat(climb) + outsideCanary.slice(1), `${dir}/l`));
      await attempt(() => c.symlink('../'.repeat(climb) + suite.lab.outside.slice(1), `${dir}/ld`));
      const findings: string[] = [];
      if (made.ok) {
        const moved = await attempt(() => c.rename(dir, '/m1-top'));
        if (moved.ok) {
          for (const [what, op] of [
            ['open+read', () => c.get('/m1-top/l')],
            ['stat', () => c.stat('/m1-top/l')],
            ['check-file-name', () => c.checkFileName('/m1-top/l')],
            ['listing through a directory link', () => c.list('/m1-top/ld')],
            ['open+read through a directory link', () => c.get('/m1-top/ld/x')],
          ] as const) {
            const r = await attempt(op as () => Promise<unknown>);
            if (r.ok)
              findings.push(
                `${what} succeeded: ${JSON.stringify(r.value instanceof Buffer ? r.value.toString() : r.value)}`,
              );
          }
        }
      }
      await assertConfined('a link moved with its directory was followed outside', findings, [c]);
    });

    test('the resume-prefix digest does not hash what a moved link points to into the audit record', async () => {
      const c = await connect();
      await c.mkdir('/c3');
      const findings: string[] = [];
      for (const [i, canary] of (await canaries(suite.lab))
        .filter((k) => k.name === 'master.key' || k.name === 'the canary outside the data dir')
        .entries()) {
        const dest = `/c3/g${i}`;
        const prefix = Buffer.alloc(16, 0x41);
        await c.put(dest, prefix);
        const handle = await c.open(dest, FXF.WRITE);
        const planted = await plantEscapingLink(suite.lab, c, `/c3/w${i}`, dest, canary.path);
        // A write at the size the file had when opened is a resume: the digest first hashes that prefix by name.
        const tail = Buffer.from('tail');
        await attempt(() => c.write(handle, prefix.length, tail));
        await attempt(() => c.close(handle));
        if (planted !== undefined) continue;
        const recorded = await auditedUploadSha(suite.lab, 'alice', dest);
        const leaked = hex(Buffer.concat([canary.content.subarray(0, prefix.length), tail]));
        const honest = hex(Buffer.concat([prefix, tail]));
        if (recorded === leaked) {
          findings.push(`${canary.name}: the audit sha256 of ${dest} is sha256(its first 16 bytes + "tail")`);
        } else if (recorded !== undefined && recorded !== honest) {
          findings.push(
            `${canary.name}: the audit sha256 of ${dest} (${recorded}) is neither the upload's nor absent`,
          );
        }
        await attempt(() => c.remove(dest));
      }
      await assertConfined('the resume digest read a file outside the home', findings, [c]);
    });

    test("the close-time hash fallback and the atomic rename do not follow a swapped directory into bob's home", async () => {
      const c = await connect();
      await c.mkdir('/c4');
      await c.mkdir('/c4/d');
      const bobPartial = await readFile(join(suite.lab.homes.bob, '.ferry-part.report.csv'));
      const handle = await c.open('/c4/d/report.csv', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
      // Out of order: no incremental digest, so close() hashes the partial by name.
      await c.write(handle, 4, Buffer.from('BBBB'));
      await c.write(handle, 0, Buffer.from('AAAA'));
      await c.rename('/c4/d', '/c4/d-real');
      const planted = await plantEscapingLink(suite.lab, c, '/c4/w', '/c4/d', suite.lab.homes.bob);
      const closed = await attempt(() => c.close(handle));
      const recorded = await auditedUploadSha(suite.lab, 'alice', '/c4/d/report.csv');
      const findings: string[] = [];
      if (planted === undefined) {
        if (recorded === hex(bobPartial))
          findings.push("the audit sha256 of alice's upload is the sha256 of bob's partial");
        if (closed.ok && (await stat(join(suite.lab.homes.bob, 'report.csv')).catch(() => undefined))) {
          findings.push("alice's CLOSE succeeded by publishing bob's partial as bob/report.csv");
        }
      }
      await assertConfined('CLOSE used the partial by name after its directory became a link', findings, [c]);
    });
  });

  describe('class 2: check-then-use races between two connections', () => {
    /** /<base>/dir (a real directory holding x) and /<base>/spare (a link to the outside directory). */
    const raceFixture = async (c: RawSftp, base: string): Promise<Buffer> => {
      await c.mkdir(base);
      await c.mkdir(`${base}/dir`);
      const inside = Buffer.from(`inside-x-${'i'.repeat(48)}\n`);
      await c.put(`${base}/dir/x`, inside);
      const planted = await plantEscapingLink(suite.lab, c, `${base}/w`, `${base}/spare`, suite.lab.outside);
      assert.equal(
        planted,
        undefined,
        'the escaping link is planted (its creation is not what this test is about)',
      );
      return inside;
    };

    test('a directory swapped for an outside link between the jail check and open/opendir/check-file-name', async () => {
      const swapper = await connect();
      const reader = await connect();
      const inside = await raceFixture(swapper, '/r1');
      const outsideNames = await readdir(suite.lab.outside);
      const outsideX = await readFile(join(suite.lab.outside, 'x'));
      const stopAt = Date.now() + RACE_MS;
      const done = () => Date.now() >= stopAt;
      const swaps = swapLoop(swapper, '/r1', done);
      const count = {
        reads: 0,
        readLeaks: 0,
        hashes: 0,
        hashLeaks: 0,
        listings: 0,
        listingLeaks: 0,
        uploads: 0,
      };
      const leakedNames = new Set<string>();
      for (let i = 0; !done(); i++) {
        count.reads++;
        const got = await attempt(() => reader.get('/r1/dir/x'));
        if (got.ok && !got.value.equals(inside) && got.value.length > 0) count.readLeaks++;
        count.hashes++;
        const digest = await attempt(() => reader.checkFileName('/r1/dir/x'));
        if (digest.ok && digest.value.equals(sha256(outsideX))) count.hashLeaks++;
        count.listings++;
        const names = await attempt(() => reader.list('/r1/dir'));
        if (names.ok) {
          const seen = names.value.filter((n) => outsideNames.includes(n) && n !== 'x');
          if (seen.length > 0) count.listingLeaks++;
          for (const n of seen) leakedNames.add(n);
        }
        count.uploads++;
        await attempt(() => reader.put(`/r1/dir/new-${i}`, Buffer.from(`attacker-${i}`)));
      }
      const totalSwaps = await swaps;
      const summary =
        `in ${RACE_MS} ms (${totalSwaps} swaps): ${count.readLeaks}/${count.reads} reads returned the outside file, ` +
        `${count.hashLeaks}/${count.hashes} check-file-name digests were the outside file's, ` +
        `${count.listingLeaks}/${count.listings} listings showed outside names [${[...leakedNames].join(', ')}]`;
      const hits = count.readLeaks + count.hashLeaks + count.listingLeaks;
      await assertConfined('a swapped directory let a by-name open escape', hits > 0 ? [summary] : [], [
        swapper,
        reader,
      ]);
    });

    test('a directory swapped for an outside link between OPEN and the atomic rename at CLOSE', async () => {
      const swapper = await connect();
      const uploader = await connect();
      await raceFixture(swapper, '/r2');
      // Someone's interrupted upload outside: a CLOSE whose rename goes through the link publishes it.
      const strayPartial = join(suite.lab.outside, '.ferry-part.up');
      const strayContent = Buffer.from(`stray-partial-${randomBytes(16).toString('hex')}\n`);
      await writeFile(strayPartial, strayContent);
      await suite.rebaseline();
      const stopAt = Date.now() + RACE_MS;
      const done = () => Date.now() >= stopAt;
      const swaps = swapLoop(swapper, '/r2', done);
      let uploads = 0;
      let published = 0;
      let createdOutside = 0;
      const before = new Set(await readdir(suite.lab.outside));
      while (!done()) {
        uploads++;
        const handle = await attempt(() => uploader.open('/r2/dir/up', FXF.WRITE | FXF.CREAT | FXF.TRUNC));
        if (!handle.ok) continue;
        await attempt(() => uploader.write(handle.value, 4, Buffer.from('late')));
        await attempt(() => uploader.write(handle.value, 0, Buffer.from('head')));
        await attempt(() => uploader.close(handle.value));
        const landed = await readFile(join(suite.lab.outside, 'up')).catch(() => undefined);
        if (landed) {
          published++;
          // Put the stray partial back so the race can go on; the count is the finding.
          await rename(join(suite.lab.outside, 'up'), strayPartial);
        }
        for (const name of await readdir(suite.lab.outside)) {
          if (!before.has(name)) {
            createdOutside++;
            before.add(name);
          }
        }
      }
      const totalSwaps = await swaps;
      const summary =
        `in ${RACE_MS} ms (${totalSwaps} swaps, ${uploads} uploads): ${published} CLOSEs renamed the outside ` +
        `partial into outside/up, ${createdOutside} new names appeared in the outside directory`;
      await assertConfined(
        'a swapped directory let CLOSE rename outside the home',
        published + createdOutside > 0 ? [summary] : [],
        [swapper, uploader],
      );
    });
  });
});
