// Groups with real OpenSSH sftp: a member of bank-partners gets the group's home template and folder permissions
// (/in upload-only, /out download-only), their own entry wins, and leaving the group or a change to it applies at
// the next login. Home templates that try to escape are refused with one line and change nothing.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runFerry } from './helpers/cli.js';
import { sftpBatch } from './helpers/openssh.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'groups-pw-2718';
let work: string;
let server: TestServer;

const ferry = async (...args: string[]) => {
  const r = await runFerry([...args, '--data-dir', server.dataDir]);
  return r;
};
const ok = async (...args: string[]) => {
  const r = await ferry(...args);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sftp = (batch: string) => sftpBatch({ port: server.port, user: 'pat', password: PW, batch, cwd: work });

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-groups-'));
  await writeFile(join(work, 'statement.csv'), 'iban;amount\nDE00;10\n');
  server = await startTestServer();
  await server.addUser('pat', { password: PW });
  // As an operator would, with the CLI while the server runs (the store is shared).
  await ok(
    'groups',
    'add',
    'bank-partners',
    '--home-template',
    join(work, 'partners', '%username%'),
    '--perm',
    '/in=list,upload',
    '--perm',
    '/out=list,download',
  );
  await ok('users', 'set', 'pat', '--group', 'bank-partners');
  const home = join(work, 'partners', 'pat');
  await mkdir(join(home, 'in'), { recursive: true });
  await mkdir(join(home, 'out'), { recursive: true });
  await writeFile(join(home, 'out', 'report.csv'), 'report\n');
  await writeFile(join(home, 'in', 'earlier.csv'), 'earlier\n');
});

after(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('a member of a group over OpenSSH sftp', () => {
  test('gets the group home and its folder permissions: /in upload-only, /out download-only', async () => {
    const up = await sftp('put statement.csv /in/statement.csv\n');
    assert.equal(up.code, 0, up.stderr);
    assert.equal(
      await readFile(join(work, 'partners', 'pat', 'in', 'statement.csv'), 'utf8'),
      'iban;amount\nDE00;10\n',
      'the upload landed in the home the template gives',
    );
    const getIn = await sftp('get /in/earlier.csv got-in.csv\n');
    assert.notEqual(getIn.code, 0, 'no download from /in');
    assert.match(getIn.stderr, /denied/i);
    await assert.rejects(stat(join(work, 'got-in.csv')));
    const getOut = await sftp('get /out/report.csv got-out.csv\n');
    assert.equal(getOut.code, 0, getOut.stderr);
    assert.equal(await readFile(join(work, 'got-out.csv'), 'utf8'), 'report\n');
    const putOut = await sftp('put statement.csv /out/statement.csv\n');
    assert.notEqual(putOut.code, 0, 'no upload to /out');
    await assert.rejects(stat(join(work, 'partners', 'pat', 'out', 'statement.csv')));

    const effective = await ok('users', 'show', 'pat', '--effective');
    assert.match(effective, /\/in list,upload {2}\[group bank-partners\]/);
    assert.match(
      effective,
      new RegExp(`home: +${join(work, 'partners', 'pat')} {2}\\[group bank-partners\\]`),
    );
  });

  test("the user's own entry wins over the group's, and a group change applies at the next login", async () => {
    await ok('users', 'set', 'pat', '--perm', '/out=list,download,upload');
    const putOut = await sftp('put statement.csv /out/mine.csv\n');
    assert.equal(putOut.code, 0, putOut.stderr);
    assert.match(await ok('users', 'show', 'pat', '--effective'), /\/out list,download,upload {2}\[user\]/);

    await ok('groups', 'set', 'bank-partners', '--perm', '/in=list,upload,download');
    const getIn = await sftp('get /in/earlier.csv got-in-2.csv\n');
    assert.equal(getIn.code, 0, getIn.stderr);
  });

  test('leaving the group gives the user their own settings again at the next login', async () => {
    await ok('users', 'set', 'pat', '--remove-group', 'bank-partners');
    const up = await sftp('put statement.csv /after.csv\n');
    assert.equal(up.code, 0, up.stderr);
    const ownHome = join(server.dataDir, 'homes', 'pat');
    assert.equal((await stat(join(ownHome, 'after.csv'))).isFile(), true, 'the default home again');
    await assert.rejects(stat(join(work, 'partners', 'pat', 'after.csv')));
    assert.match(await ok('users', 'show', 'pat', '--effective'), /home: +\S+homes\/pat {2}\[default\]/);
  });
});

describe("a group's quota", () => {
  test('holds for its members: the upload past it fails and leaves nothing', async () => {
    await server.addUser('quin', { password: PW });
    await ok('groups', 'add', 'capped', '--quota-bytes', '40KiB');
    await ok('users', 'set', 'quin', '--add-group', 'capped');
    await writeFile(join(work, '30k.bin'), Buffer.alloc(30 * 1024, 1));
    const as = (batch: string) =>
      sftpBatch({ port: server.port, user: 'quin', password: PW, batch, cwd: work });
    assert.equal((await as('put 30k.bin /one.bin\n')).code, 0);
    const second = await as('put 30k.bin /two.bin\n');
    assert.notEqual(second.code, 0, 'past the group quota');
    const home = join(server.dataDir, 'homes', 'quin');
    await assert.rejects(stat(join(home, 'two.bin')));
    assert.match(await ok('users', 'show', 'quin', '--effective'), /quota bytes: 40960 {2}\[group capped\]/);
  });
});

describe('home templates that try to escape', () => {
  for (const template of [
    '/srv/../etc/%username%',
    '/srv/partners/%username%/..',
    'srv/%username%',
    '/srv/%USER%/%username%',
    '/srv/%username%%2e%2e',
    '/srv/partners\n/%username%',
    '/srv\\..\\%username%',
    '/srv//%username%',
    '/srv/partners',
  ]) {
    test(`${JSON.stringify(template)} is refused with one line and nothing changes`, async () => {
      const before = await ok('groups', 'list', '--json');
      const added = await ferry('groups', 'add', 'evil', '--home-template', template);
      assert.notEqual(added.code, 0);
      assert.equal(added.stderr.trim().split('\n').length, 1, added.stderr);
      assert.match(added.stderr, /home ?[Tt]emplate/);
      const set = await ferry('groups', 'set', 'bank-partners', '--home-template', template);
      assert.notEqual(set.code, 0);
      assert.equal(set.stderr.trim().split('\n').length, 1, set.stderr);
      assert.equal(await ok('groups', 'list', '--json'), before);
    });
  }
});
