// Pure logic of the transfers module: globs, the ledger, backoff, durations, schedules, known_hosts, command lines.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseDestination } from '../src/cli/sftp.js';
import { splitArgs } from '../src/cli/sftp-shell-commands.js';
import { sha256Fingerprint } from '../src/keys/ssh-keys.js';
import type { LedgerEntry, TransferJobRecord } from '../src/store/types.js';
import { fileMatcher, globToRegExp } from '../src/transfers/glob.js';
import { validateSchedule } from '../src/transfers/jobs.js';
import {
  addKnownHost,
  checkHostKey,
  hostMatches,
  parseKnownHosts,
  readKnownHosts,
} from '../src/transfers/known-hosts.js';
import { alreadyTransferred, parseAfter, pendingFiles } from '../src/transfers/ledger.js';
import { missedSlot } from '../src/transfers/scheduler.js';
import { backoffDelay, MAX_BACKOFF_MS, parseDuration } from '../src/transfers/timing.js';
import { partName } from '../src/transfers/transfer.js';

const execFileAsync = promisify(execFile);

test('globs match file names as a shell does, dotfiles only when asked for', () => {
  const csv = fileMatcher('*.csv');
  assert.ok(csv('a.csv'));
  assert.ok(!csv('a.csv.bak'));
  assert.ok(!csv('.hidden.csv'));
  assert.ok(fileMatcher('.*.csv')('.hidden.csv'));
  const list = fileMatcher('inv-??.xml, report[0-9].txt');
  assert.ok(list('inv-01.xml'));
  assert.ok(!list('inv-1.xml'));
  assert.ok(list('report7.txt'));
  assert.ok(!list('reportX.txt'));
  assert.ok(fileMatcher('[!a]*')('b'));
  assert.ok(!fileMatcher('[!a]*')('a'));
  assert.ok(fileMatcher('')('anything'));
  assert.ok(globToRegExp('a+b(1).txt').test('a+b(1).txt'));
  assert.ok(!globToRegExp('*').test('dir/file'));
  assert.throws(() => fileMatcher('out/*.csv'), { code: 'ERR_INVALID_ARGUMENT' });
});

test('the ledger skips files already transferred unless their size or mtime changed', () => {
  const ledger = new Map<string, LedgerEntry>([
    ['a.csv', { path: 'a.csv', size: 10, mtime: 100, sha256: null }],
  ]);
  assert.ok(alreadyTransferred(ledger, { name: 'a.csv', size: 10, mtime: 100 }));
  assert.ok(!alreadyTransferred(ledger, { name: 'a.csv', size: 11, mtime: 100 }));
  assert.ok(!alreadyTransferred(ledger, { name: 'a.csv', size: 10, mtime: 101 }));
  assert.deepEqual(
    pendingFiles(ledger, [
      { name: 'c.csv', size: 1, mtime: 1 },
      { name: 'a.csv', size: 10, mtime: 100 },
      { name: 'b.csv', size: 1, mtime: 1 },
    ]).map((f) => f.name),
    ['b.csv', 'c.csv'],
  );
  assert.deepEqual(parseAfter('move:done'), { kind: 'move', dir: 'done' });
  assert.deepEqual(parseAfter('delete'), { kind: 'delete' });
  assert.throws(() => parseAfter('shred'), { code: 'ERR_INVALID_ARGUMENT' });
});

test('backoff doubles per retry with jitter and is capped; durations read as people write them', () => {
  assert.equal(backoffDelay(30_000, 1, 1), 30_000);
  assert.equal(backoffDelay(30_000, 2, 1), 60_000);
  assert.equal(backoffDelay(30_000, 3, 0.5), 60_000);
  assert.equal(backoffDelay(30_000, 30, 1), MAX_BACKOFF_MS);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(1000, 2);
    assert.ok(d >= 1000 && d <= 2000);
  }
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('45'), 45_000);
  assert.throws(() => parseDuration('soon'), { code: 'ERR_INVALID_ARGUMENT' });
  assert.throws(() => parseDuration('5 m'), { code: 'ERR_INVALID_ARGUMENT' });
});

test('a run missed during downtime is found once; schedules are validated', () => {
  const job = (over: Partial<TransferJobRecord>): TransferJobRecord => ({
    id: 1,
    name: 'j',
    partner: 'p',
    direction: 'pull',
    remoteDir: '/',
    localDir: '/tmp',
    pattern: '*',
    schedule: '*/5 * * * *',
    after: 'keep',
    retries: 0,
    backoffMs: 1000,
    enabled: true,
    lastScheduledAt: null,
    createdAt: new Date('2026-01-01T10:00:30Z'),
    updatedAt: new Date('2026-01-01T10:00:30Z'),
    ...over,
  });
  assert.equal(missedSlot(job({}), new Date('2026-01-01T10:04:00Z')), undefined);
  assert.equal(
    missedSlot(job({}), new Date('2026-01-01T12:00:00Z'))?.toISOString(),
    '2026-01-01T10:05:00.000Z',
  );
  const handled = job({ lastScheduledAt: new Date('2026-01-01T11:55:00Z') });
  assert.equal(missedSlot(handled, new Date('2026-01-01T11:59:00Z')), undefined);
  assert.equal(missedSlot(job({ enabled: false }), new Date('2026-01-02T00:00:00Z')), undefined);
  assert.equal(missedSlot(job({ schedule: null }), new Date('2026-01-02T00:00:00Z')), undefined);
  assert.equal(validateSchedule('0 2 * * 1-5'), '0 2 * * 1-5');
  assert.throws(() => validateSchedule('every night'), { code: 'ERR_INVALID_ARGUMENT' });
});

test('known_hosts: plain, bracketed, wildcard, negated and ssh-keygen-hashed entries; revoked and changed keys', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-kh-'));
  try {
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'a')]);
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'b')]);
    const [typeA, b64A] = (await readFile(join(dir, 'a.pub'), 'utf8')).split(' ') as [string, string];
    const [, b64B] = (await readFile(join(dir, 'b.pub'), 'utf8')).split(' ') as [string, string];
    const blobA = Buffer.from(b64A, 'base64');
    const blobB = Buffer.from(b64B, 'base64');
    assert.ok(hostMatches('example.com', 'example.com', 22));
    assert.ok(!hostMatches('example.com', 'example.com', 2222));
    assert.ok(hostMatches('[example.com]:2222', 'example.com', 2222));
    assert.ok(hostMatches('*.example.com,!bad.example.com', 'sftp.example.com', 22));
    assert.ok(!hostMatches('*.example.com,!bad.example.com', 'bad.example.com', 22));

    const file = join(dir, 'known_hosts');
    await writeFile(
      file,
      `# comment\nsftp.example.com,10.0.0.5 ${typeA} ${b64A}\n[sftp.example.com]:2222 ${typeA} ${b64A}\n`,
    );
    await execFileAsync('ssh-keygen', ['-H', '-f', file]);
    const hashed = await readKnownHosts(file);
    assert.ok(hashed.every((e) => e.patterns.startsWith('|1|')));
    assert.equal(checkHostKey(hashed, 'sftp.example.com', 22, typeA, blobA).status, 'known');
    assert.equal(checkHostKey(hashed, '10.0.0.5', 22, typeA, blobA).status, 'known');
    assert.equal(checkHostKey(hashed, 'sftp.example.com', 2222, typeA, blobA).status, 'known');
    assert.equal(checkHostKey(hashed, 'sftp.example.com', 22, typeA, blobB).status, 'changed');
    assert.equal(checkHostKey(hashed, 'other.example.com', 22, typeA, blobA).status, 'unknown');
    assert.equal(
      checkHostKey(hashed, 'sftp.example.com', 22, 'ecdsa-sha2-nistp256', blobB).status,
      'unknown',
    );

    const revoked = parseKnownHosts(`@revoked * ${typeA} ${b64B}\n`);
    assert.equal(checkHostKey(revoked, 'any', 22, typeA, blobB).status, 'revoked');

    const fresh = join(dir, 'ssh', 'known_hosts');
    await addKnownHost(fresh, '127.0.0.1', 2022, typeA, blobA);
    await addKnownHost(fresh, 'host', 22, typeA, blobB);
    assert.equal(await readFile(fresh, 'utf8'), `[127.0.0.1]:2022 ${typeA} ${b64A}\nhost ${typeA} ${b64B}\n`);
    // ssh-keygen reads what we write.
    const found = await execFileAsync('ssh-keygen', ['-F', '[127.0.0.1]:2022', '-f', fresh]);
    assert.match(found.stdout, /found: line 1/);
    assert.equal(sha256Fingerprint(blobA).startsWith('SHA256:'), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('command lines split like sftp, destinations parse like ssh, temp names sit beside the file', () => {
  assert.deepEqual(splitArgs(`put "my file.txt" 'a b' c\\ d`), ['put', 'my file.txt', 'a b', 'c d']);
  assert.deepEqual(splitArgs('get ""'), ['get', '']);
  assert.throws(() => splitArgs('get "open'), { code: 'ERR_INVALID_ARGUMENT' });
  assert.deepEqual(parseDestination('bob@sftp.example.com:/out'), {
    user: 'bob',
    host: 'sftp.example.com',
    path: '/out',
  });
  assert.deepEqual(parseDestination('sftp://bob@[::1]:2222/in'), {
    user: 'bob',
    host: '::1',
    port: 2222,
    path: 'in',
  });
  assert.equal(parseDestination('me@x@host').user, 'me@x');
  assert.equal(
    partName('/data/in/report.csv'),
    '/data/in/.ferry-part.report.csv',
    'locally: the core partial',
  );
  assert.equal(partName('out/a.bin', 'posix'), 'out/.a.bin.ferry-part');
});
