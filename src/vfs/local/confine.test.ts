// The confine addon keeps every path inside its root, tried the way an attacker would try to leave it.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, readFileSync, write } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { toFerryError } from '../../errors.js';
import { confine } from './confine.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, S_IFMT, S_IFLNK, S_IFDIR } = constants;
const ADDON = fileURLToPath(new URL('../../../native/confine/build/Release/confine.node', import.meta.url));
const INSIDE = 'planted inside the root\n';
const OUTSIDE = 'SECRET outside the root\n';

function readFd(fd: number): string {
  try {
    return readFileSync(fd, 'utf8'); // the returned fd is an ordinary one for node:fs
  } finally {
    closeSync(fd);
  }
}

async function readInRoot(root: number, path: string): Promise<string> {
  const { fd } = await confine.open(root, path, O_RDONLY, 0);
  return readFd(fd);
}

function rejectsWith(promise: Promise<unknown>, code: string, syscall?: string): Promise<void> {
  return assert.rejects(promise, (err: NodeJS.ErrnoException) => {
    assert.equal(err.code, code, err.message);
    assert.equal(typeof err.errno, 'number');
    assert.ok((err.errno ?? 0) < 0, 'errno is negative, as in Node');
    if (syscall) assert.equal(err.syscall, syscall);
    return true;
  });
}

// Every attack twice: with the root's calls on the thread pool, and inline on the JS thread (setInline).
for (const inline of [false, true]) {
  describe(`confine (${inline ? 'inline' : 'pool'} calls)`, () => {
    let base: string;
    let home: string;
    let outside: string;
    let root: number;

    before(async () => {
      base = await fsp.mkdtemp(join(tmpdir(), 'ferry-confine-'));
      home = join(base, 'home');
      outside = join(base, 'outside');
      await fsp.mkdir(join(home, 'etc'), { recursive: true });
      await fsp.mkdir(join(home, 'a', 'b', 'c'), { recursive: true });
      await fsp.mkdir(outside);
      await fsp.writeFile(join(home, 'etc', 'passwd'), INSIDE);
      await fsp.writeFile(join(home, 'a', 'f'), 'f');
      await fsp.writeFile(join(outside, 'secret'), OUTSIDE);
      root = await confine.openRoot(home);
      confine.setInline(root, inline);
    });
    after(async () => {
      confine.setDegraded(false);
      confine.setInline(root, false);
      closeSync(root);
      await fsp.rm(base, { recursive: true, force: true });
    });

    it('reads an absolute symlink to /etc/passwd as the root’s own /etc/passwd', async () => {
      await fsp.symlink('/etc/passwd', join(home, 'abs-link'));
      assert.equal(await readInRoot(root, 'abs-link'), INSIDE);
      await fsp.symlink(join(outside, 'secret'), join(home, 'abs-secret'));
      await rejectsWith(confine.open(root, 'abs-secret', O_RDONLY, 0), 'ENOENT', 'openat2');
    });

    it('clamps a relative symlink climbing far above the root at the root', async () => {
      await fsp.symlink('../../../../../../../../etc/passwd', join(home, 'a', 'b', 'up'));
      assert.equal(await readInRoot(root, 'a/b/up'), INSIDE);
      await fsp.symlink('../../outside/secret', join(home, 'a', 'sneak'));
      await rejectsWith(confine.open(root, 'a/sneak', O_RDONLY, 0), 'ENOENT');
    });

    it('keeps a link that climbs exactly to the root inside it after being moved shallower', async () => {
      await fsp.symlink('../../../etc/passwd', join(home, 'a', 'b', 'c', 'exact'));
      assert.equal(await readInRoot(root, 'a/b/c/exact'), INSIDE);
      await confine.rename(root, 'a/b/c/exact', 'exact', false);
      // from the root the text climbs three levels above it: still the root's /etc/passwd
      assert.equal(await readInRoot(root, 'exact'), INSIDE);
    });

    it('resolves .. and absolute request paths inside the root', async () => {
      assert.equal(await readInRoot(root, '../../../../etc/passwd'), INSIDE);
      assert.equal(await readInRoot(root, '/a/b/../../etc/passwd'), INSIDE);
      assert.equal(await confine.realpath(root, '../../..'), '/');
      assert.equal(await confine.realpath(root, ''), '/');
      await rejectsWith(confine.open(root, '../outside/secret', O_RDONLY, 0), 'ENOENT');
    });

    it('never opens outside content while a directory is swapped for a symlink to / in a tight loop', async (t) => {
      await fsp.mkdir(join(home, 'sw', 'etc'), { recursive: true });
      await fsp.writeFile(join(home, 'sw', 'etc', 'passwd'), INSIDE);
      await fsp.symlink('/', join(home, 'sw-link'));
      // The attacker is another process, so the swaps run truly in parallel with our opens.
      const attacker = spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('fs'); process.chdir(${JSON.stringify(home)}); const end = Date.now() + 2000;
         let n = 0;
         while (Date.now() < end) {
           try { fs.renameSync('sw', 'sw-dir'); fs.renameSync('sw-link', 'sw'); fs.renameSync('sw', 'sw-link');
                 fs.renameSync('sw-dir', 'sw'); n++; } catch {}
         }
         console.log(n);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let swaps = '';
      attacker.stdout.on('data', (chunk: Buffer) => {
        swaps += chunk.toString();
      });
      const exited = new Promise<void>((resolve) => attacker.on('exit', () => resolve()));
      let running = true;
      void exited.then(() => {
        running = false;
      });
      const seen = { inside: 0, missing: 0 };
      const hostPasswd = readFileSync('/etc/passwd', 'utf8');
      const opener = async () => {
        while (running) {
          try {
            const text = await readInRoot(root, 'sw/etc/passwd');
            assert.notEqual(text, hostPasswd, 'read the host /etc/passwd');
            assert.equal(text, INSIDE);
            seen.inside++;
          } catch (err) {
            if (err instanceof assert.AssertionError) throw err;
            seen.missing++; // ENOENT while the name is mid-swap
          }
          // Inline calls settle without a turn of the event loop (LocalFs adds one): let the attacker's exit in.
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await Promise.all([opener(), opener(), opener(), opener()]);
      await exited;
      t.diagnostic(`${Number(swaps)} swaps; ${seen.inside} inside reads, ${seen.missing} mid-swap misses`);
      assert.ok(Number(swaps) > 100, `attacker swapped ${swaps} times`);
      assert.ok(seen.inside > 100, `opened ${seen.inside} times`);
    });

    it('cannot rename or link anything into or out of the root', async () => {
      await rejectsWith(confine.rename(root, '../outside/secret', 'stolen', false), 'ENOENT');
      await rejectsWith(confine.link(root, `${outside}/secret`, 'stolen'), 'ENOENT');
      await confine.rename(root, 'a/f', '../../../../f-escaped', false);
      await fsp.access(join(home, 'f-escaped')); // landed at the root, not above it
      await assert.rejects(fsp.access(join(base, 'f-escaped')));
      await confine.rename(root, 'f-escaped', 'a/f', true);
      // linkat never follows the source: linking a symlink to /etc/passwd links the symlink itself
      await confine.link(root, 'abs-link', 'hard');
      const hard = await confine.stat(root, 'hard', false);
      assert.equal(hard.stat.mode & S_IFMT, S_IFLNK);
      assert.equal(hard.stat.nlink, 2);
      await fsp.access(join(outside, 'secret'));
    });

    it('stores and returns symlink text verbatim', async () => {
      for (const [i, text] of ['../../../etc/passwd', '/abs//odd/./path/', 'sp ace/ünï', '..'].entries()) {
        await confine.symlink(root, text, `verbatim-${i}`);
        assert.equal(await confine.readlink(root, `verbatim-${i}`), text);
        assert.equal(await fsp.readlink(join(home, `verbatim-${i}`)), text);
      }
    });

    it('reports where objects really are, relative to the root', async () => {
      const opened = await confine.open(root, 'a/b/../f', O_RDONLY, 0);
      closeSync(opened.fd);
      assert.equal(opened.path, '/a/f');
      assert.equal((await confine.stat(root, 'abs-link', true)).path, '/etc/passwd');
      assert.equal((await confine.stat(root, 'abs-link', false)).path, '/abs-link');
      assert.equal(await confine.realpath(root, 'a/b/up'), '/etc/passwd');
      const dir = await confine.opendir(root, 'a/b/c/../..');
      await confine.closedir(dir.dir);
      assert.equal(dir.path, '/a');
      assert.equal(dir.stat.mode & S_IFMT, S_IFDIR);
    });

    it('creates, writes and removes entries with no-follow semantics on the last name', async () => {
      const created = await confine.open(root, 'new.txt', O_WRONLY | O_CREAT | O_EXCL, 0o640);
      await promisify(write)(created.fd, 'hello');
      closeSync(created.fd);
      assert.equal(created.stat.mode & 0o777, 0o640);
      assert.equal(await fsp.readFile(join(home, 'new.txt'), 'utf8'), 'hello');
      await rejectsWith(confine.open(root, 'new.txt', O_WRONLY | O_CREAT | O_EXCL, 0o600), 'EEXIST');
      await rejectsWith(confine.open(root, 'abs-link', O_RDONLY | O_NOFOLLOW, 0), 'ELOOP');
      await confine.mkdir(root, 'made', 0o750);
      await rejectsWith(confine.mkdir(root, 'made/..', 0o750), 'EINVAL');
      await rejectsWith(confine.rmdir(root, '/'), 'EINVAL');
      await rejectsWith(confine.rename(root, 'new.txt', 'made', true), 'EEXIST');
      await confine.unlink(root, 'abs-link'); // removes the link, not its target
      await fsp.access(join(home, 'etc', 'passwd'));
      await confine.rmdir(root, 'made');
      await confine.unlink(root, 'new.txt');
      await rejectsWith(confine.unlink(root, 'new.txt'), 'ENOENT', 'unlink');
    });

    it('changes modes and times of the object in the root, or of the entry itself', async () => {
      await fsp.symlink(join(outside, 'secret'), join(home, 'chmod-escape'));
      await rejectsWith(confine.chmod(root, 'chmod-escape', 0o777, true), 'ENOENT');
      await rejectsWith(confine.chmod(root, 'chmod-escape', 0o777, false), 'EOPNOTSUPP');
      await confine.chmod(root, 'exact', 0o604, true); // follows to the root's /etc/passwd
      assert.equal((await fsp.stat(join(home, 'etc', 'passwd'))).mode & 0o777, 0o604);
      assert.equal((await fsp.stat(join(outside, 'secret'))).mode & 0o777, 0o644);
      await confine.utimes(root, 'exact', 1_000_000.5, 2_000_000.25, true);
      const target = await fsp.stat(join(home, 'etc', 'passwd'));
      assert.equal(target.mtimeMs, 2_000_000_250);
      await confine.utimes(root, 'chmod-escape', 3_000, 4_000, false);
      assert.equal((await fsp.lstat(join(home, 'chmod-escape'))).mtimeMs, 4_000_000);
      assert.notEqual((await fsp.stat(join(outside, 'secret'))).mtimeMs, 4_000_000);
      const fs = await confine.statfs(root, '/');
      assert.ok(fs.bsize > 0 && fs.namemax > 0);
    });

    it('refuses a FIFO without blocking a pool thread', async () => {
      execFileSync('mkfifo', [join(home, 'fifo')]);
      const started = Date.now();
      await rejectsWith(confine.open(root, 'fifo', O_RDONLY, 0), 'EINVAL');
      await rejectsWith(confine.open(root, 'fifo', O_WRONLY, 0), 'EINVAL');
      await rejectsWith(confine.open(root, 'fifo', O_RDWR, 0), 'EINVAL');
      assert.ok(Date.now() - started < 1000);
    });

    it('lists a directory in batches of lstat results', async () => {
      await fsp.mkdir(join(home, 'many'));
      for (let i = 0; i < 25; i++) await fsp.writeFile(join(home, 'many', `f${i}`), 'x'.repeat(i));
      await fsp.symlink('/etc/passwd', join(home, 'many', 'link'));
      const { dir } = await confine.opendir(root, 'many');
      const sizes: number[] = [];
      const names: string[] = [];
      for (let batch = await confine.readdir(dir, 10); batch; batch = await confine.readdir(dir, 10)) {
        sizes.push(batch.length);
        for (const entry of batch) names.push(entry.name);
        const link = batch.find((entry) => entry.name === 'link');
        if (link) assert.equal(link.stat.mode & S_IFMT, S_IFLNK);
      }
      await confine.closedir(dir);
      assert.deepEqual(sizes, [10, 10, 6]);
      assert.equal(names.length, 26);
      assert.ok(!names.includes('.') && !names.includes('..'));
      await rejectsWith(confine.readdir(dir, 10), 'EBADF');
    });

    it('in degraded mode refuses every symlink and every .. but still works', async () => {
      confine.setDegraded(true);
      try {
        assert.equal(confine.isDegraded(), true);
        assert.equal(await readInRoot(root, '/etc/passwd'), INSIDE);
        await fsp.symlink('f', join(home, 'a', 'tame'));
        await fsp.symlink('a', join(home, 'a-dir'));
        await rejectsWith(confine.open(root, 'a/tame', O_RDONLY, 0), 'ELOOP', 'openat');
        await rejectsWith(confine.open(root, 'a-dir/f', O_RDONLY, 0), 'ELOOP');
        await rejectsWith(confine.stat(root, 'a/tame', true), 'ELOOP');
        await rejectsWith(confine.open(root, 'a/../etc/passwd', O_RDONLY, 0), 'EPERM');
        assert.equal((await confine.stat(root, 'a/tame', false)).stat.mode & S_IFMT, S_IFLNK);
        assert.equal(await confine.readlink(root, 'a/tame'), 'f');
        await confine.mkdir(root, 'deg', 0o700);
        await rejectsWith(confine.mkdir(root, 'a-dir/deg', 0o700), 'ELOOP');
        await confine.rmdir(root, 'deg');
      } finally {
        confine.setDegraded(false);
      }
    });

    it('rejects with errors toFerryError maps like Node fs errors', async () => {
      const missing = await confine.stat(root, 'nope', true).catch((err: unknown) => err);
      assert.equal(toFerryError(missing).code, 'ERR_NOT_FOUND');
      assert.match((missing as Error).message, /^ENOENT: no such file or directory, openat2 'nope'$/);
      confine.setDegraded(true);
      const loop = await confine.stat(root, 'a/tame', true).catch((err: unknown) => err);
      confine.setDegraded(false);
      assert.equal(toFerryError(loop).code, 'ERR_INVALID_PATH');
    });
  });
}

describe('landlock', () => {
  let dir: string;
  before(async () => {
    dir = await fsp.mkdtemp(join(tmpdir(), 'ferry-landlock-'));
    await fsp.writeFile(join(dir, 'ok.txt'), 'allowed');
  });
  after(() => fsp.rm(dir, { recursive: true, force: true }));

  /** Runs `body` in a child node after `setup`; landlock() is called between them. */
  async function inChild(setup: string): Promise<Record<string, unknown>> {
    const q = JSON.stringify;
    const script = `
      const addon = require(${q(ADDON)});
      const fs = require('fs');
      const { Worker } = require('worker_threads');
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      const workerProbe = () => new Worker(\`
        const fs = require('fs'); const { parentPort } = require('worker_threads');
        const attempt = (f) => { try { return f(); } catch (e) { return e.code; } };
        parentPort.once('message', () => parentPort.postMessage({
          denied: attempt(() => fs.readFileSync('/etc/hostname', 'utf8') && 'ok'),
          allowed: attempt(() => fs.readFileSync(${q(join(dir, 'ok.txt'))}, 'utf8')),
        }));\`, { eval: true });
      const ask = (w) => new Promise((resolve, reject) => {
        w.once('message', (m) => { resolve(m); w.terminate(); });
        w.once('error', reject);
        w.postMessage('go');
      });
      (async () => {
        ${setup}
        const abi = addon.landlock([{ path: ${q(dir)}, access: 'rw' }]);
        const out = { abi, uncovered: addon.landlockUncoveredThreads() };
        out.mainDenied = attempt(() => fs.readFileSync('/etc/hostname'));
        out.poolDenied = await fs.promises.readFile('/etc/hostname').then(() => 'ok', (e) => e.code);
        out.poolAllowed = await fs.promises.readFile(${q(join(dir, 'ok.txt'))}, 'utf8');
        await fs.promises.writeFile(${q(join(dir, 'new.txt'))}, 'written');
        out.poolWrote = fs.readFileSync(${q(join(dir, 'new.txt'))}, 'utf8');
        out.worker = await ask(typeof early === 'undefined' ? workerProbe() : early);
        console.log(JSON.stringify(out));
      })();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
    return JSON.parse(stdout);
  }

  function assertConfined(out: Record<string, unknown>): void {
    assert.deepEqual(out, {
      abi: out['abi'],
      uncovered: out['uncovered'],
      mainDenied: 'EACCES',
      poolDenied: 'EACCES',
      poolAllowed: 'allowed',
      poolWrote: 'written',
      worker: { denied: 'EACCES', allowed: 'allowed' },
    });
    assert.ok(Number(out['uncovered']) <= 1, 'only the signal-blocking SIGUSR1 watchdog may stay uncovered');
  }

  it('denies a child everything but its allowed tree, on the main thread, the pool and a new worker', async (t) => {
    const out = await inChild('');
    if (out['abi'] === 0) return t.skip('kernel without Landlock');
    assertConfined(out);
  });

  it("runs programs only from trees given 'rx' (command rules), not from 'ro' ones", async (t) => {
    const q = JSON.stringify;
    const run = async (usr: 'ro' | 'rx') => {
      const script = `
        const addon = require(${q(ADDON)});
        const { execFileSync } = require('child_process');
        const abi = addon.landlock([{ path: ${q(dir)}, access: 'rw' }, { path: '/usr', access: ${q(usr)} },
          ...['/lib', '/lib64', '/bin'].filter((p) => require('fs').existsSync(p)).map((path) => ({ path, access: ${q(usr)} }))]);
        let ran;
        try { ran = execFileSync('/usr/bin/true') && 'ok'; } catch (e) { ran = e.code; }
        console.log(JSON.stringify({ abi, ran }));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
      return JSON.parse(stdout) as { abi: number; ran: string };
    };
    const readOnly = await run('ro');
    if (readOnly.abi === 0) return t.skip('kernel without Landlock');
    assert.equal(readOnly.ran, 'EACCES');
    assert.equal((await run('rx')).ran, 'ok');
  });

  it('also covers the libuv pool and a worker that were already running when it was applied', async (t) => {
    // the case TSYNC exists for; below ABI 8 the addon's signal broadcast must do the same
    const out = await inChild(`
      await fs.promises.stat('/');
      var early = workerProbe();
      await new Promise((resolve) => early.once('online', resolve));`);
    if (out['abi'] === 0) return t.skip('kernel without Landlock');
    assertConfined(out);
  });
});
