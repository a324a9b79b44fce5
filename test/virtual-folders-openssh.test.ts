// Virtual folders against a real `ferry serve --workers 2` (Landlock on where the kernel has it) with OpenSSH sftp:
// a group's read-only /reports, a user's /drop with its own quota, moves between folders by copy and delete, and
// each folder confined to its own directory (symlinks, '..', a directory swapped for links while a client reads).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { sftpBatch } from './helpers/openssh.js';
import { attempt, RawSftp } from './helpers/raw-sftp.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
const PW = 'folders-pw-1618';
const REPORT = 'iban;amount\nDE00;10\n';
const HOME_SECRET = 'the home secret 7f3a9c, never served from a folder';
const OUTSIDE_SECRET = 'outside every root 2b8e41';

let work: string;
let data: string;
let reports: string;
let drop: string;
let server: ChildProcess;
let port: number;
let hardening = '';

const ok = async (...args: string[]) => {
  const r = await runFerry([...args, '--data-dir', data]);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sftp = (batch: string, user = 'pat') => sftpBatch({ port, user, password: PW, batch, cwd: work });

async function startServe(): Promise<void> {
  server = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', data, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '2'],
    { env: { ...process.env, FERRY_LOG_LEVEL: 'silent', FERRY_ALLOW_LIST: '127.0.0.1' } },
  );
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      hardening = out;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve(Number(m[1]));
    };
    server.stdout?.on('data', onData);
    server.stderr?.on('data', onData);
    server.on('exit', (code) => reject(new Error(`ferry serve exited with ${code}: ${out}`)));
  });
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-vfolders-'));
  data = join(work, 'data');
  reports = join(work, 'srv', 'reports');
  drop = join(work, 'srv', 'drop');
  await mkdir(reports, { recursive: true });
  await mkdir(drop, { recursive: true });
  await writeFile(join(reports, 'q3.csv'), REPORT);
  await writeFile(join(work, 'outside.txt'), OUTSIDE_SECRET);
  await writeFile(join(work, '30k.bin'), Buffer.alloc(30 * 1024, 7));
  await writeFile(join(work, 'small.txt'), 'small\n');
  const init = await runFerry(['init', '--data-dir', data]);
  assert.equal(init.code, 0, init.stderr);
  for (const user of ['pat', 'quin']) {
    const r = await runFerry(['users', 'add', user, '--password-stdin', '--data-dir', data], `${PW}\n`);
    assert.equal(r.code, 0, r.stderr);
  }
  await ok('groups', 'add', 'bank-partners');
  await ok('folders', 'add', 'reports', '--path', reports, '--description', 'monthly reports');
  await ok('folders', 'add', 'drop', '--path', drop, '--quota-bytes', '40KiB');
  await ok('groups', 'set', 'bank-partners', '--folder', 'reports:/reports');
  await ok('users', 'set', 'pat', '--group', 'bank-partners', '--quota-bytes', '40KiB');
  await ok('users', 'set', 'pat', '--folder', 'drop:/drop:*');
  await ok('users', 'set', 'quin', '--folder', 'drop:/in/drop:list,upload');
  // Folders' directories are allowed by the workers' Landlock rulesets, which are made at start.
  await startServe();
  const home = join(data, 'homes', 'pat');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'secret.txt'), HOME_SECRET);
});

after(async () => {
  if (server && server.exitCode === null) {
    server.removeAllListeners('exit');
    await new Promise<void>((resolve) => {
      server.on('exit', () => resolve());
      server.kill('SIGTERM');
    });
  }
  await rm(work, { recursive: true, force: true });
});

describe('virtual folders over OpenSSH sftp', () => {
  test('a group member sees /reports read-only: listed, downloads work, uploads and deletes are refused', async () => {
    const listing = await sftp('ls -l /\nls /reports\n');
    assert.equal(listing.code, 0, listing.stderr);
    assert.match(listing.stdout, /^d.* reports$/m, 'the mount is a directory of /');
    assert.match(listing.stdout, /^d.* drop$/m);
    assert.match(listing.stdout, /q3\.csv/);
    const get = await sftp('get /reports/q3.csv got.csv\n');
    assert.equal(get.code, 0, get.stderr);
    assert.equal(await readFile(join(work, 'got.csv'), 'utf8'), REPORT);
    const put = await sftp('put small.txt /reports/small.txt\n');
    assert.notEqual(put.code, 0, 'no upload into a read-only folder');
    assert.match(put.stderr, /denied/i);
    const del = await sftp('rm /reports/q3.csv\n');
    assert.notEqual(del.code, 0);
    assert.deepEqual(await readdir(reports), ['q3.csv']);
    const effective = await ok('users', 'show', 'pat', '--effective');
    assert.match(effective, /\/reports list,download {2}\[folder reports \(group bank-partners\)\]/);
    assert.match(
      effective,
      /\/reports reports \(.*srv\/reports; quota: bytes unlimited, files unlimited\) {2}\[group bank-partners\]/,
    );
    assert.match(effective, /\/drop drop .* {2}\[user\]/);
  });

  test('the mount point cannot be removed or renamed by the user', async () => {
    for (const batch of ['rmdir /reports\n', 'rename /drop /dropped\n', 'mkdir /x\nrename /x /reports\n']) {
      const r = await sftp(batch);
      assert.notEqual(r.code, 0, batch);
    }
    assert.ok((await stat(drop)).isDirectory());
    assert.ok((await stat(reports)).isDirectory());
  });

  test("a folder's quota holds separately from the home's", async () => {
    assert.equal((await sftp('put 30k.bin /home-1.bin\n')).code, 0, 'the home takes 30 KiB of its 40');
    assert.equal((await sftp('put 30k.bin /drop/one.bin\n')).code, 0, 'the folder has its own 40 KiB');
    const second = await sftp('put 30k.bin /drop/two.bin\n');
    assert.notEqual(second.code, 0, 'past the folder quota');
    assert.deepEqual((await readdir(drop)).sort(), ['one.bin'], 'nothing left of the refused upload');
    // quin writes into the same folder (mounted elsewhere in their view): the folder's count is shared.
    const quin = await sftp('put 30k.bin /in/drop/quin.bin\n', 'quin');
    assert.notEqual(quin.code, 0, "the folder's quota counts everyone's files");
    assert.equal((await sftp('put small.txt /in/drop/quin.txt\n', 'quin')).code, 0);
    assert.match(await ok('folders', 'show', 'drop'), /used: +30726 bytes in 2 files/);
    await rm(join(drop, 'quin.txt'));
    await ok('quota', 'scan', 'drop', '--folder');
  });

  test('a rename between the home and a folder is a copy and a delete; a directory is refused with a reason', async () => {
    assert.equal((await sftp('put small.txt /moving.txt\n')).code, 0);
    const move = await sftp('rename /moving.txt /drop/moved.txt\n');
    assert.equal(move.code, 0, move.stderr);
    assert.equal(await readFile(join(drop, 'moved.txt'), 'utf8'), 'small\n');
    await assert.rejects(stat(join(data, 'homes', 'pat', 'moving.txt')));
    const dir = await sftp('mkdir /adir\nrename /adir /drop/adir\n');
    assert.notEqual(dir.code, 0);
    assert.match(dir.stderr, /unsupported/i, "OpenSSH prints the status code's own text");
    await assert.rejects(stat(join(drop, 'adir')));
    // SFTP status messages are OpenSSH's fixed texts (never a path); the audit trail says what happened and why.
    const audit = await ok('audit', 'query', '--user', 'pat', '--action', 'rename', '--json');
    const records = audit
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { path?: string; detail?: Record<string, unknown> });
    const flat = (r: object) => JSON.stringify(r);
    const moved = records.find((r) => flat(r).includes('/moving.txt'));
    assert.ok(moved && flat(moved).includes('"byCopy":true'), `the move is recorded as a copy: ${audit}`);
    const refused = records.find((r) => flat(r).includes('/adir'));
    assert.ok(
      refused &&
        flat(refused).includes('only files can be moved between virtual folders (by copy and delete)'),
      audit,
    );
    const back = await sftp('rename /drop/moved.txt /moved-back.txt\n');
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await readFile(join(data, 'homes', 'pat', 'moved-back.txt'), 'utf8'), 'small\n');
  });

  test("symlinks in a folder resolve inside it: '/', '..' and absolute paths never reach the home or the disk", async () => {
    await writeFile(join(drop, 'mine.txt'), 'drop file\n');
    await symlink('/', join(drop, 'root'));
    await symlink('../../../../../../..', join(drop, 'up'));
    await symlink(join(data, 'homes', 'pat'), join(drop, 'home-abs'));
    await symlink(join(work, 'outside.txt'), join(drop, 'outside-abs'));
    await symlink('/secret.txt', join(drop, 'secret-rel'));
    await symlink('/reports/q3.csv', join(data, 'homes', 'pat', 'to-reports'));
    const c = await RawSftp.connect({ port, username: 'pat', password: PW });
    try {
      assert.equal((await c.get('/drop/root/mine.txt')).toString(), 'drop file\n');
      assert.equal((await c.get('/drop/up/mine.txt')).toString(), 'drop file\n');
      for (const path of [
        '/drop/home-abs/secret.txt',
        '/drop/outside-abs',
        '/drop/secret-rel',
        '/drop/up/outside.txt',
        '/to-reports',
        '/drop/../secret.txt/../../outside.txt',
      ]) {
        const r = await attempt(() => c.get(path));
        assert.ok(
          !r.ok || (!r.value.toString().includes('secret') && !r.value.toString().includes('iban')),
          path,
        );
      }
      for (const reply of c.received) {
        assert.ok(
          !reply.includes(Buffer.from(HOME_SECRET.slice(0, 20))),
          'the home file never reached a folder read',
        );
        assert.ok(
          !reply.includes(Buffer.from(OUTSIDE_SECRET.slice(0, 16))),
          'the outside file never reached it',
        );
      }
    } finally {
      c.end();
    }
  });

  test('swapping a folder directory for escaping symlinks while a client reads and writes never reaches the home', async () => {
    const real = join(drop, 'd-real');
    const swapped = join(drop, 'd');
    await mkdir(real, { recursive: true });
    await writeFile(join(real, 'secret.txt'), 'folder copy\n');
    const c = await RawSftp.connect({ port, username: 'pat', password: PW });
    const until = Date.now() + 3000;
    let reads = 0;
    const attacker = (async () => {
      const links = [join(data, 'homes', 'pat'), '../../../data/homes/pat', '/', '..'];
      for (let i = 0; Date.now() < until; i++) {
        await rm(swapped, { force: true }).catch(() => undefined);
        if (i % 2 === 0) {
          await rename(real, swapped).catch(() => undefined);
          await new Promise((r) => setImmediate(r));
          await rename(swapped, real).catch(() => undefined);
        } else {
          await symlink(links[(i >> 1) % links.length]!, swapped).catch(() => undefined);
          await new Promise((r) => setImmediate(r));
        }
      }
    })();
    try {
      while (Date.now() < until) {
        const got = await attempt(() => c.get('/drop/d/secret.txt'));
        if (got.ok) reads++;
        await attempt(() => c.put('/drop/d/written.txt', Buffer.from('w')));
      }
      await attacker;
      for (const reply of c.received) {
        assert.ok(!reply.includes(Buffer.from(HOME_SECRET.slice(0, 20))), 'the home file never served');
      }
      const home = await readdir(join(data, 'homes', 'pat'));
      assert.ok(!home.includes('written.txt'), `nothing written into the home (${reads} reads went through)`);
      assert.equal(await readFile(join(data, 'homes', 'pat', 'secret.txt'), 'utf8'), HOME_SECRET);
    } finally {
      c.end();
    }
  });

  test('bad folder commands are refused with one line and change nothing', async () => {
    const before = await ok('folders', 'list', '--json');
    for (const args of [
      ['folders', 'add', 'inside-data', '--path', join(data, 'homes')],
      ['folders', 'add', 'rel', '--path', 'srv/x'],
      ['folders', 'add', 'dots', '--path', `${work}/srv/../data`],
      ['folders', 'add', 'reports', '--path', reports],
      ['folders', 'remove', 'reports'],
      ['users', 'set', 'pat', '--folder', 'nothing:/x'],
      ['users', 'set', 'pat', '--folder', 'reports:/drop/inner'],
      ['users', 'set', 'pat', '--folder', 'reports:relative'],
      ['users', 'set', 'pat', '--folder', 'reports:/r:fly'],
      ['users', 'set', 'pat', '--folder', 'reports:/'],
      ['users', 'set', 'pat', '--remove-folder', '/never'],
      ['groups', 'set', 'bank-partners', '--folder', 'reports:/.ferry-part.x'],
    ]) {
      const r = await runFerry([...args, '--data-dir', data]);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(await ok('folders', 'list', '--json'), before);
    // A folder whose directory does not exist yet counts as empty, and is not made by the CLI (nor by a scan).
    await ok('folders', 'add', 'later', '--path', join(work, 'srv', 'later'), '--quota-bytes', '1KiB');
    assert.match(await ok('folders', 'show', 'later'), /used: +0 bytes in 0 files/);
    await assert.rejects(stat(join(work, 'srv', 'later')));
    await ok('folders', 'remove', 'later');
  });

  test('the workers run under Landlock with the folders allowed, or say why not', () => {
    assert.match(hardening, /landlock: (active|not available|off)/);
    if (/landlock: active/.test(hardening)) assert.match(hardening, new RegExp(`read-write: .*${drop}`));
  });
});
