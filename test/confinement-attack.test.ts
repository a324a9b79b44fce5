// Issue 12 played against a real `ferry serve` running as root: moved links, check-then-use races, partials by link, permission laundering.
//
// Every test ends with the same invariant: nothing outside the attacker's home was read (no canary bytes or
// canary digest in any reply, no 1-byte hash oracle), hashed (audit sha256 of an outside file), written or
// created (the tree outside the homes is unchanged). Races run for FERRY_ATTACK_RACE_SECONDS (default 3) each.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix, relative } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { attempt, FXF, RawSftp } from './helpers/raw-sftp.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
const IS_ROOT = process.getuid?.() === 0;
const RACE_MS = Number(process.env.FERRY_ATTACK_RACE_SECONDS ?? '3') * 1000;
const WORKERS = process.env.FERRY_ATTACK_WORKERS ?? '1';
const PASSWORD = 'attack-pw';

const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();
const hex = (data: Buffer | string): string => sha256(data).toString('hex');
const show = (data: Buffer): string => JSON.stringify(data.toString('latin1'));

// ---- the server and the canaries ------------------------------------------------------------------

interface Lab {
  work: string;
  data: string;
  outside: string;
  port: number;
  server: ChildProcess;
  homes: { alice: string; bob: string; carol: string };
  /** Components of alice's real home: how many '..' climb from it to '/'. */
  homeDepth: number;
}

interface Canary {
  readonly name: string;
  readonly path: string;
  readonly content: Buffer;
}

function ferry(
  dataDir: string,
  args: string[],
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runFerry([...args, '--data-dir', dataDir], input);
}

async function addUser(lab: Pick<Lab, 'data'>, name: string, perms: string[] = []): Promise<void> {
  const args = ['users', 'add', name, '--password-stdin', ...perms.flatMap((p) => ['--perm', p])];
  const r = await ferry(lab.data, args, `${PASSWORD}\n`);
  assert.equal(r.code, 0, `ferry users add ${name}: ${r.stderr}`);
}

async function startServe(data: string): Promise<{ server: ChildProcess; port: number }> {
  const server = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', data, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', WORKERS],
    // Attacks fail on purpose, often: the defender must not ban the attacker in the middle of a race.
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent', FERRY_ALLOW_LIST: '127.0.0.1' } },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    };
    server.stdout?.on('data', onData);
    server.stderr?.on('data', onData);
    server.on('exit', (code) => reject(new Error(`ferry serve exited with ${code}: ${out}`)));
  });
  return { server, port };
}

function stopServe(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Read fresh at every check: an earlier, failed test may have changed one. */
async function canaries(lab: Lab): Promise<Canary[]> {
  const list: Array<[string, string]> = [
    ['the canary outside the data dir', join(lab.outside, 'canary.txt')],
    ['the canary named like the inside file', join(lab.outside, 'x')],
    ['master.key', join(lab.data, 'master.key')],
    ["bob's file", join(lab.homes.bob, 'secret.txt')],
    ["bob's upload in progress", join(lab.homes.bob, '.ferry-part.report.csv')],
    ["carol's no-download file", join(lab.homes.carol, 'vault', 'payroll.csv')],
    ['/etc/shadow', '/etc/shadow'],
  ];
  const out: Canary[] = [];
  for (const [name, path] of list) {
    const content = await readFile(path).catch(() => undefined);
    if (content && content.length > 0) out.push({ name, path, content });
  }
  return out;
}

/** Everything the client was ever sent that carries a canary's bytes or digest. */
async function leaksIn(lab: Lab, clients: readonly RawSftp[]): Promise<string[]> {
  const found: string[] = [];
  for (const canary of await canaries(lab)) {
    const needles: Array<[string, Buffer]> = [
      ['its sha256', sha256(canary.content)],
      ['its sha256 in hex', Buffer.from(hex(canary.content))],
    ];
    if (canary.content.length >= 8) needles.push(['its first bytes', canary.content.subarray(0, 24)]);
    for (const client of clients) {
      for (const [what, needle] of needles) {
        const hits = client.received.filter((reply) => reply.includes(needle)).length;
        if (hits > 0)
          found.push(`${canary.name} (${canary.path}): ${what} in ${hits} repl${hits === 1 ? 'y' : 'ies'}`);
      }
    }
  }
  return found;
}

interface Node {
  kind: string;
  mode: number;
  size: number;
  mtimeMs: number;
  content: string;
}

/**
 * Kind, mode, size, mtime and content of everything under `work` except the attackers' homes and what the server
 * itself writes there (the store and the audit anchor log, which grow with every audited operation).
 */
async function snapshot(lab: Lab): Promise<Map<string, Node>> {
  const skip = new Set([lab.homes.alice, lab.homes.carol]);
  const out = new Map<string, Node>();
  const walk = async (dir: string): Promise<void> => {
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      const serverOwned = name.startsWith('ferry.db') || name === 'audit-anchors.log';
      if (skip.has(path) || (dir === lab.data && serverOwned)) continue;
      const st = await lstat(path);
      const kind = st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isFile()
            ? 'file'
            : 'other';
      const content =
        kind === 'file' ? hex(await readFile(path)) : kind === 'symlink' ? await readlink(path) : '';
      // A directory's mtime moves with its entries, which are compared one by one.
      out.set(relative(lab.work, path), {
        kind,
        mode: st.mode,
        size: kind === 'dir' ? 0 : st.size,
        mtimeMs: kind === 'dir' ? 0 : st.mtimeMs,
        content,
      });
      if (kind === 'dir') await walk(path);
    }
  };
  await walk(lab.work);
  const shadow = await stat('/etc/shadow');
  out.set('/etc/shadow', {
    kind: 'file',
    mode: shadow.mode,
    size: shadow.size,
    mtimeMs: shadow.mtimeMs,
    content: '',
  });
  return out;
}

function diffSnapshots(before: Map<string, Node>, after: Map<string, Node>): string[] {
  const lines: string[] = [];
  for (const [path, node] of after) {
    const old = before.get(path);
    if (!old) {
      lines.push(
        `created ${path} (${node.kind}, ${node.size} bytes, mode ${(node.mode & 0o7777).toString(8)})`,
      );
      continue;
    }
    const changed = (Object.keys(node) as Array<keyof Node>).filter((k) => node[k] !== old[k]);
    if (changed.length > 0) lines.push(`changed ${path}: ${changed.join(', ')}`);
  }
  for (const path of before.keys()) if (!after.has(path)) lines.push(`removed ${path}`);
  return lines;
}

/** The sha256 the audit trail recorded for alice's last upload of `path`, or undefined. */
async function auditedUploadSha(lab: Lab, user: string, path: string): Promise<string | undefined> {
  const r = await ferry(lab.data, ['audit', 'query', '--json', '--user', user, '--action', 'upload']);
  assert.equal(r.code, 0, r.stderr);
  let sha: string | undefined;
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as { path?: string; detail?: { sha256?: string } };
    if (record.path === path) sha = record.detail?.sha256;
  }
  return sha;
}

// ---- attack moves ---------------------------------------------------------------------------------

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

describe('issue 12: confinement under attack, ferry serve as root', {
  skip: IS_ROOT
    ? false
    : 'needs root (ferry serve must run as root to reach master.key, other homes and /etc/shadow)',
}, () => {
  let lab: Lab;
  let baseline: Map<string, Node>;
  const clients: RawSftp[] = [];

  const connect = async (username = 'alice'): Promise<RawSftp> => {
    const c = await RawSftp.connect({ port: lab.port, username, password: PASSWORD });
    clients.push(c);
    return c;
  };

  /**
   * The common invariant, with the test's own findings: no canary reached any client of this test, nothing
   * outside the homes changed. One assertion, so a failure shows everything that went wrong at once.
   */
  const assertConfined = async (
    message: string,
    findings: readonly string[],
    used: readonly RawSftp[],
  ): Promise<void> => {
    const leaks = await leaksIn(lab, used);
    const changes = diffSnapshots(baseline, await snapshot(lab));
    assert.deepEqual(
      { findings, leakedToClient: leaks, changedOutsideHomes: changes },
      { findings: [], leakedToClient: [], changedOutsideHomes: [] },
      message,
    );
  };

  before(async () => {
    const work = await realpath(await mkdtemp(join(tmpdir(), 'ferry-attack-')));
    const data = join(work, 'data');
    const outside = join(work, 'outside');
    await mkdir(outside);
    const homes = {
      alice: join(data, 'homes', 'alice'),
      bob: join(data, 'homes', 'bob'),
      carol: join(data, 'homes', 'carol'),
    };
    const init = await ferry(data, ['init']);
    // The mutation run (scripts/confinement-mutation.sh) plays this suite against a Ferry from before
    // `ferry init`, which created its data dir on first use.
    if (!/unknown command 'init'/.test(init.stderr)) assert.equal(init.code, 0, `ferry init: ${init.stderr}`);
    await addUser({ data }, 'alice');
    await addUser({ data }, 'bob');
    await addUser({ data }, 'carol', [
      '/vault=list,upload,overwrite,rename,delete,create_dirs',
      '/public=*',
      '/nochmod=list,download,upload,overwrite,delete,rename,create_dirs',
    ]);
    const { server, port } = await startServe(data);
    for (const home of Object.values(homes)) await mkdir(home, { recursive: true, mode: 0o700 });
    await chmod(join(data, 'homes'), 0o700);
    await writeFile(join(outside, 'canary.txt'), `outside-canary-${randomBytes(24).toString('hex')}\n`);
    await writeFile(join(outside, 'x'), `outside-x-${randomBytes(24).toString('hex')}\n`);
    await writeFile(join(homes.bob, 'secret.txt'), `bob-secret-${randomBytes(24).toString('hex')}\n`);
    await writeFile(
      join(homes.bob, '.ferry-part.report.csv'),
      `bob-partial-${randomBytes(24).toString('hex')}\n`,
    );
    await mkdir(join(homes.carol, 'vault', 'sub'), { recursive: true });
    await mkdir(join(homes.carol, 'public'));
    await mkdir(join(homes.carol, 'nochmod'));
    await writeFile(
      join(homes.carol, 'vault', 'payroll.csv'),
      `payroll-${randomBytes(24).toString('hex')}\n`,
    );
    await writeFile(
      join(homes.carol, 'vault', 'sub', 'deep.csv'),
      `deep-payroll-${randomBytes(24).toString('hex')}\n`,
    );
    const homeDepth = (await realpath(homes.alice)).split('/').filter(Boolean).length;
    lab = { work, data, outside, port, server, homes, homeDepth };
    assert.ok((await stat(join(data, 'master.key'))).isFile(), 'ferry serve wrote master.key');
  });

  after(async () => {
    for (const c of clients) c.end();
    if (lab) {
      await stopServe(lab.server);
      await rm(lab.work, { recursive: true, force: true });
    }
  });

  beforeEach(async () => {
    for (const c of clients.splice(0)) c.end();
    baseline = await snapshot(lab);
  });

  describe('class 1: a stored symlink that changes meaning when moved', () => {
    test('check-file-handle on a write-only handle does not hash (or read, byte by byte) what a moved link points to', async () => {
      const c = await connect();
      await c.mkdir('/c1');
      const own = Buffer.alloc(4096);
      const findings: string[] = [];
      const targets = (await canaries(lab)).filter(
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
        const planted = await plantEscapingLink(lab, c, `/c1/w${i}`, dest, canary.path);
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
      const targets = (await canaries(lab)).filter((k) =>
        ['the canary outside the data dir', 'master.key'].includes(k.name),
      );
      for (const [i, canary] of targets.entries()) {
        await c.mkdir(`/c2/d${i}`);
        const dest = `/c2/d${i}/f`;
        await c.put(dest, own);
        const handle = await c.open(dest, FXF.WRITE);
        await c.rename(`/c2/d${i}`, `/c2/old${i}`);
        const planted = await plantEscapingLink(lab, c, `/c2/w${i}`, dest, canary.path, 'directory');
        if (planted === undefined) findings.push(...(await probeWriteOnlyHandle(c, handle, own, canary)));
        await attempt(() => c.close(handle));
      }
      await assertConfined('check-file-handle followed a link moved with its directory', findings, [c]);
    });

    test('a link moved shallower by renaming its directory is not followed by open, stat, check-file-name or listing', async () => {
      const c = await connect();
      const outsideCanary = join(lab.outside, 'canary.txt');
      // /m1/a/b/.../l climbs exactly to the home root; renaming the deepest directory to /m1-top makes it climb out.
      const climb = lab.homeDepth + 2;
      let dir = '/m1';
      await c.mkdir(dir);
      for (let i = 2; i <= climb; i++) {
        dir = `${dir}/a${i}`;
        await c.mkdir(dir);
      }
      const made = await attempt(() => c.symlink('../'.repeat(climb) + outsideCanary.slice(1), `${dir}/l`));
      await attempt(() => c.symlink('../'.repeat(climb) + lab.outside.slice(1), `${dir}/ld`));
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
      for (const [i, canary] of (await canaries(lab))
        .filter((k) => k.name === 'master.key' || k.name === 'the canary outside the data dir')
        .entries()) {
        const dest = `/c3/g${i}`;
        const prefix = Buffer.alloc(16, 0x41);
        await c.put(dest, prefix);
        const handle = await c.open(dest, FXF.WRITE);
        const planted = await plantEscapingLink(lab, c, `/c3/w${i}`, dest, canary.path);
        // A write at the size the file had when opened is a resume: the digest first hashes that prefix by name.
        const tail = Buffer.from('tail');
        await attempt(() => c.write(handle, prefix.length, tail));
        await attempt(() => c.close(handle));
        if (planted !== undefined) continue;
        const recorded = await auditedUploadSha(lab, 'alice', dest);
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
      const bobPartial = await readFile(join(lab.homes.bob, '.ferry-part.report.csv'));
      const handle = await c.open('/c4/d/report.csv', FXF.WRITE | FXF.CREAT | FXF.TRUNC);
      // Out of order: no incremental digest, so close() hashes the partial by name.
      await c.write(handle, 4, Buffer.from('BBBB'));
      await c.write(handle, 0, Buffer.from('AAAA'));
      await c.rename('/c4/d', '/c4/d-real');
      const planted = await plantEscapingLink(lab, c, '/c4/w', '/c4/d', lab.homes.bob);
      const closed = await attempt(() => c.close(handle));
      const recorded = await auditedUploadSha(lab, 'alice', '/c4/d/report.csv');
      const findings: string[] = [];
      if (planted === undefined) {
        if (recorded === hex(bobPartial))
          findings.push("the audit sha256 of alice's upload is the sha256 of bob's partial");
        if (closed.ok && (await stat(join(lab.homes.bob, 'report.csv')).catch(() => undefined))) {
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
      const planted = await plantEscapingLink(lab, c, `${base}/w`, `${base}/spare`, lab.outside);
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
      const outsideNames = await readdir(lab.outside);
      const outsideX = await readFile(join(lab.outside, 'x'));
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
      const strayPartial = join(lab.outside, '.ferry-part.up');
      const strayContent = Buffer.from(`stray-partial-${randomBytes(16).toString('hex')}\n`);
      await writeFile(strayPartial, strayContent);
      baseline = await snapshot(lab);
      const stopAt = Date.now() + RACE_MS;
      const done = () => Date.now() >= stopAt;
      const swaps = swapLoop(swapper, '/r2', done);
      let uploads = 0;
      let published = 0;
      let createdOutside = 0;
      const before = new Set(await readdir(lab.outside));
      while (!done()) {
        uploads++;
        const handle = await attempt(() => uploader.open('/r2/dir/up', FXF.WRITE | FXF.CREAT | FXF.TRUNC));
        if (!handle.ok) continue;
        await attempt(() => uploader.write(handle.value, 4, Buffer.from('late')));
        await attempt(() => uploader.write(handle.value, 0, Buffer.from('head')));
        await attempt(() => uploader.close(handle.value));
        const landed = await readFile(join(lab.outside, 'up')).catch(() => undefined);
        if (landed) {
          published++;
          // Put the stray partial back so the race can go on; the count is the finding.
          await rename(join(lab.outside, 'up'), strayPartial);
        }
        for (const name of await readdir(lab.outside)) {
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
        const current = await readFile(join(lab.homes.alice, 'p1', '.ferry-part.big.bin'));
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
      const recorded = await auditedUploadSha(lab, 'alice', '/p1/big.bin');
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
      const payroll = await readFile(join(lab.homes.carol, 'vault', 'payroll.csv'));
      const deep = await readFile(join(lab.homes.carol, 'vault', 'sub', 'deep.csv'));
      assert.equal(
        (await attempt(() => c.get('/vault/payroll.csv'))).ok,
        false,
        'control: /vault has no download',
      );
      const findings: string[] = [];
      const carol = (virtual: string) => join(lab.homes.carol, virtual);
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
      const onDisk = async (virtual: string) => (await lstat(join(lab.homes.carol, virtual))).mode & 0o7777;
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
