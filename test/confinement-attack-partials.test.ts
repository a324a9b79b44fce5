// Issue 12 played against a real `ferry serve` running as root, classes 3 and 4: reserved partials reached by
// link, and permission laundering (classes 1 and 2 are in confinement-attack.test.ts, which says what every
// test's closing invariant checks).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { lstat, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { attackSuite, auditedUploadSha, hex, NEEDS_ROOT, sha256, show } from './helpers/confinement-lab.js';
import { attempt, FXF, type RawSftp } from './helpers/raw-sftp.js';

/** SCP sink upload of one file with the mode an SCP `C` line carries. */
async function scpUpload(
  c: RawSftp,
  targetDir: string,
  name: string,
  mode: string,
  data: Buffer,
): Promise<string> {
  const ch = await c.exec(`scp -t ${targetDir}`);
  const replies: Buffer[] = [];
  let waiting: (() => void) | undefined;
  ch.on('data', (d: Buffer) => {
    replies.push(d);
    waiting?.();
  });
  const done = new Promise<void>((resolve) => ch.on('close', () => resolve()));
  let seen = 0;
  /** Resolves at the next ack (or error line) from the sink, or when the channel closes. */
  const nextReply = () =>
    Promise.race([
      done,
      new Promise<void>((resolve) => {
        waiting = resolve;
        if (replies.length > seen) resolve();
      }),
    ]).then(() => {
      waiting = undefined;
      seen = replies.length;
    });
  await nextReply();
  ch.write(`C${mode} ${data.length} ${name}\n`);
  await nextReply();
  ch.write(Buffer.concat([data, Buffer.from([0])]));
  await nextReply();
  ch.end();
  await done;
  return Buffer.concat(replies).toString('latin1');
}

// ---- the suite ------------------------------------------------------------------------------------

describe('issue 12: confinement under attack, ferry serve as root (classes 3 and 4)', {
  skip: NEEDS_ROOT,
}, () => {
  const suite = attackSuite();
  const { connect, assertConfined } = suite;

  describe('class 3: reserved partials reachable by link', () => {
    test('a symlink to .ferry-part.NAME cannot read, hash or overwrite an upload in progress', async () => {
      const uploader = await connect();
      const peeker = await connect();
      await uploader.mkdir('/p1');
      const part1 = Buffer.from(`upload-in-progress-${randomBytes(24).toString('hex')}\n`);
      const part2 = Buffer.from(`second-half-${randomBytes(24).toString('hex')}\n`);
      const handle = await uploader.open('/p1/big.bin', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
      await uploader.write(handle, 0, part1);
      const findings: string[] = [];
      for (const [link, target] of [
        ['/p1/peek', '.ferry-part.big.bin'],
        ['/p1/peek-abs', '/p1/.ferry-part.big.bin'],
        ['/peek-up', 'p1/.ferry-part.big.bin'],
      ] as const) {
        const made = await attempt(() => peeker.symlink(target, link));
        if (!made.ok) continue;
        // What the partial holds right now (an earlier probe may have written into it).
        const current = await readFile(join(suite.lab.homes.alice, 'p1', '.ferry-part.big.bin'));
        const got = await attempt(() => peeker.get(link));
        if (got.ok && got.value.equals(current)) findings.push(`${link} -> ${target}: read the partial`);
        const digest = await attempt(() => peeker.checkFileName(link));
        if (digest.ok && digest.value.equals(sha256(current)))
          findings.push(`${link} -> ${target}: check-file-name hashed the partial`);
        const st = await attempt(() => peeker.stat(link));
        if (st.ok && st.value.size === current.length)
          findings.push(`${link} -> ${target}: stat showed the partial's size`);
        const w = await attempt(async () => {
          const h = await peeker.open(link, FXF.WRITE);
          await peeker.write(h, 0, Buffer.from('EVIL'));
          await peeker.close(h);
        });
        if (w.ok) findings.push(`${link} -> ${target}: wrote into the partial`);
      }
      const listed = await attempt(() => peeker.list('/p1'));
      if (listed.ok && listed.value.some((n) => n.startsWith('.ferry-part.')))
        findings.push('the listing showed the partial');
      await uploader.write(handle, part1.length, part2);
      await uploader.close(handle);
      const published = await uploader.get('/p1/big.bin');
      const expected = Buffer.concat([part1, part2]);
      if (!published.equals(expected))
        findings.push(`published ${show(published.subarray(0, 24))}… instead of what was uploaded`);
      const recorded = await auditedUploadSha(suite.lab, 'alice', '/p1/big.bin');
      if (recorded !== hex(published))
        findings.push(
          `the audit sha256 ${recorded} is not the sha256 of the published file ${hex(published)}`,
        );
      await assertConfined('an upload in progress was reachable through a link to its partial', findings, [
        uploader,
        peeker,
      ]);
    });
  });

  describe('class 4: permission laundering', () => {
    test('rename and posix-rename do not carry a file out of a folder without download into one with it', async () => {
      const c = await connect('carol');
      const payroll = await readFile(join(suite.lab.homes.carol, 'vault', 'payroll.csv'));
      const deep = await readFile(join(suite.lab.homes.carol, 'vault', 'sub', 'deep.csv'));
      assert.equal(
        (await attempt(() => c.get('/vault/payroll.csv'))).ok,
        false,
        'control: /vault has no download',
      );
      const findings: string[] = [];
      const carol = (virtual: string) => join(suite.lab.homes.carol, virtual);
      const moves: Array<[how: string, from: string, to: string, readBack: string, content: Buffer]> = [
        ['rename', '/vault/payroll.csv', '/public/p1.csv', '/public/p1.csv', payroll],
        ['posix-rename', '/vault/payroll.csv', '/public/p2.csv', '/public/p2.csv', payroll],
        ['rename of a directory', '/vault/sub', '/public/sub', '/public/sub/deep.csv', deep],
        ['hardlink (control)', '/vault/payroll.csv', '/public/h.csv', '/public/h.csv', payroll],
      ];
      for (const [how, from, to, readBack, content] of moves) {
        const moved = await attempt(() =>
          how === 'posix-rename'
            ? c.posixRename(from, to)
            : how.startsWith('hardlink')
              ? c.hardlink(from, to)
              : c.rename(from, to),
        );
        if (!moved.ok) continue;
        const got = await attempt(() => c.get(readBack));
        // Undo it (as root, on disk) so the next way of moving is tried on the same file.
        if (await stat(carol(from)).catch(() => undefined)) await rm(carol(to), { force: true });
        else await rename(carol(to), carol(from));
        const downloaded = got.ok && got.value.equals(content);
        findings.push(
          `${how} ${from} -> ${to} was allowed${downloaded ? `, then ${readBack} downloaded its content` : ''}`,
        );
      }
      await assertConfined('a file left a no-download folder for a download folder', findings, [c]);
    });

    test('OPEN and MKDIR ATTRS, SETSTAT and SCP C lines never set setuid/setgid, and set no mode without chmod', async () => {
      const c = await connect('carol');
      const onDisk = async (virtual: string) =>
        (await lstat(join(suite.lab.homes.carol, virtual))).mode & 0o7777;
      await c.put('/nochmod/plain', Buffer.from('x'));
      const plain = await onDisk('/nochmod/plain');
      await c.mkdir('/nochmod/plain-dir');
      const plainDir = await onDisk('/nochmod/plain-dir');
      const findings: string[] = [];
      const expectMode = async (
        what: string,
        virtual: string,
        ok: (mode: number) => boolean,
        want: string,
      ) => {
        const mode = await onDisk(virtual).catch(() => undefined);
        if (mode !== undefined && !ok(mode))
          findings.push(`${what}: ${virtual} has mode ${mode.toString(8)}, want ${want}`);
      };
      const noSuid = (mode: number) => (mode & 0o6000) === 0;
      await attempt(() => c.put('/nochmod/suid', Buffer.from('x'), { permissions: 0o6777 }));
      await expectMode(
        'OPEN ATTRS 6777 without chmod',
        '/nochmod/suid',
        (m) => m === plain,
        plain.toString(8),
      );
      await attempt(() => c.put('/nochmod/exec', Buffer.from('x'), { permissions: 0o777 }));
      await expectMode(
        'OPEN ATTRS 0777 without chmod',
        '/nochmod/exec',
        (m) => m === plain,
        plain.toString(8),
      );
      await attempt(() => c.mkdir('/nochmod/sgid-dir', { permissions: 0o7777 }));
      await expectMode(
        'MKDIR ATTRS 7777 without chmod',
        '/nochmod/sgid-dir',
        (m) => m === plainDir,
        plainDir.toString(8),
      );
      await attempt(() => c.put('/suid', Buffer.from('x'), { permissions: 0o6755 }));
      await expectMode('OPEN ATTRS 6755 with chmod', '/suid', noSuid, 'no setuid/setgid');
      await c.put('/later', Buffer.from('x'));
      await attempt(() => c.setstat('/later', { permissions: 0o4755 }));
      await expectMode('SETSTAT 4755 with chmod', '/later', noSuid, 'no setuid/setgid');
      await attempt(async () => {
        const h = await c.open('/later', FXF.WRITE);
        await c.fsetstat(h, { permissions: 0o2755 });
        await c.close(h);
      });
      await expectMode('FSETSTAT 2755 with chmod', '/later', noSuid, 'no setuid/setgid');
      await attempt(() => scpUpload(c, '/nochmod', 'scp-777', '0777', Buffer.from('scp')));
      await expectMode('SCP C0777 without chmod', '/nochmod/scp-777', (m) => m === plain, plain.toString(8));
      await attempt(() => scpUpload(c, '/nochmod', 'scp-suid', '6777', Buffer.from('scp')));
      await expectMode('SCP C6777 without chmod', '/nochmod/scp-suid', (m) => m === plain, plain.toString(8));
      await attempt(() => scpUpload(c, '/', 'scp-suid', '6755', Buffer.from('scp')));
      await expectMode('SCP C6755 with chmod', '/scp-suid', noSuid, 'no setuid/setgid');
      await assertConfined('a mode was set that the permissions do not allow', findings, [c]);
    });
  });
});
