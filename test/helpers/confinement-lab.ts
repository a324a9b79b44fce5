// The lab of the confinement attack suites (issue 12): a real `ferry serve` running as root, three users' homes,
// canaries outside them, and the invariant every attack ends with. Used by test/confinement-attack*.test.ts;
// scripts/confinement-mutation.sh copies this file with them into the old tree it plays them against.
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
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { runFerry } from './cli.js';
import { RawSftp } from './raw-sftp.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'ferry.js');
export const IS_ROOT = process.getuid?.() === 0;
export const RACE_MS = Number(process.env.FERRY_ATTACK_RACE_SECONDS ?? '3') * 1000;
const WORKERS = process.env.FERRY_ATTACK_WORKERS ?? '1';
export const PASSWORD = 'attack-pw';

export const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();
export const hex = (data: Buffer | string): string => sha256(data).toString('hex');
export const show = (data: Buffer): string => JSON.stringify(data.toString('latin1'));

// ---- the server and the canaries ------------------------------------------------------------------

export interface Lab {
  work: string;
  data: string;
  outside: string;
  port: number;
  server: ChildProcess;
  homes: { alice: string; bob: string; carol: string };
  /** Components of alice's real home: how many '..' climb from it to '/'. */
  homeDepth: number;
}

export interface Canary {
  readonly name: string;
  readonly path: string;
  readonly content: Buffer;
}

export function ferry(
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

/** SIGTERM, then SIGKILL after a while: a server whose drain hangs (the mutation check runs an old one) must not
 * hang the suite with it. */
const STOP_GRACE_MS = 20_000;

function stopServe(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.on('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Read fresh at every check: an earlier, failed test may have changed one. */
export async function canaries(lab: Lab): Promise<Canary[]> {
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
export async function snapshot(lab: Lab): Promise<Map<string, Node>> {
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
export async function auditedUploadSha(lab: Lab, user: string, path: string): Promise<string | undefined> {
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

/** Why the suites are skipped when not root: ferry serve must run as root to reach what they guard. */
export const NEEDS_ROOT = IS_ROOT
  ? false
  : 'needs root (ferry serve must run as root to reach master.key, other homes and /etc/shadow)';

export interface AttackSuite {
  /** The running lab; set by the suite's `before`. */
  readonly lab: Lab;
  connect(username?: string): Promise<RawSftp>;
  assertConfined(message: string, findings: readonly string[], used: readonly RawSftp[]): Promise<void>;
  /** Takes the tree outside the homes as it is now as the baseline (for a test that plants something first). */
  rebaseline(): Promise<void>;
}

/**
 * Registers the lab's hooks in the calling `describe`: one server for the suite, every test's connections closed
 * and the tree outside the homes recorded before it runs.
 */
export function attackSuite(): AttackSuite {
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

  return {
    get lab() {
      return lab;
    },
    connect,
    assertConfined,
    async rebaseline() {
      baseline = await snapshot(lab);
    },
  };
}
