// `ferry sftp` driven like OpenSSH's sftp: batch files against a real sshd, and one session on a pseudo-terminal.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { type OpenSshServer, startOpenSshServer } from './helpers/openssh-server.js';

const execFileAsync = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ferry.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ferrySftp(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'sftp', ...args], {
      cwd: ROOT,
      env: { ...process.env, FERRY_LOG_LEVEL: 'silent', ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

async function setup(): Promise<{ dir: string; key: string; sshd: OpenSshServer; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sftp-cli-'));
  const key = join(dir, 'id');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sshd = await startOpenSshServer({ authorizedKeys: await readFile(`${key}.pub`, 'utf8') });
  return {
    dir,
    key,
    sshd,
    close: async () => {
      await sshd.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('batch mode: unknown host keys are refused without a terminal, hashed known_hosts entries are honoured', async () => {
  const { dir, key, sshd, close } = await setup();
  try {
    const knownHosts = join(dir, 'known_hosts');
    const base = ['-P', String(sshd.port), '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`];
    const refused = await ferrySftp([...base, '-b', '-', `${sshd.user}@127.0.0.1`], { input: 'pwd\n' });
    assert.equal(refused.code, 255);
    assert.match(refused.stderr, /Host key verification failed/);

    // What OpenSSH writes, hashed by ssh-keygen -H: ferry must find it.
    await writeFile(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPublic}\n`);
    await execFileAsync('ssh-keygen', ['-H', '-f', knownHosts]);
    assert.match(await readFile(knownHosts, 'utf8'), /^\|1\|/);
    const ok = await ferrySftp([...base, '-b', '-', `${sshd.user}@127.0.0.1`], { input: 'pwd\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`Remote working directory: ${sshd.root}`));

    // A changed key for a known host is refused loudly.
    await writeFile(
      knownHosts,
      `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`,
    );
    const changed = await ferrySftp([...base, '-b', '-', `${sshd.user}@127.0.0.1`], { input: 'pwd\n' });
    assert.equal(changed.code, 255);
    assert.match(changed.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.ok(changed.stderr.includes(sshd.hostKeySha256));
  } finally {
    await close();
  }
});

test('batch mode runs OpenSSH sftp commands: globs, -r, -p, reget, rename, chmod, df, and stops at a failure', async () => {
  const { dir, key, sshd, close } = await setup();
  try {
    const local = join(dir, 'local');
    await mkdir(join(local, 'tree', 'sub'), { recursive: true });
    await writeFile(join(local, 'one.csv'), '1');
    await writeFile(join(local, 'two.csv'), '22');
    await writeFile(join(local, 'skip.txt'), 'x');
    await writeFile(join(local, 'tree', 'sub', 'deep.txt'), 'deep');
    const old = new Date('2020-01-02T03:04:05Z');
    await utimes(join(local, 'one.csv'), old, old);
    // A partial download to be continued by reget.
    await writeFile(join(sshd.root, 'big.bin'), Buffer.alloc(300_000, 7));
    await writeFile(join(local, 'big.bin'), Buffer.alloc(100_000, 7));
    const batch = [
      `lcd ${local}`,
      'mkdir up',
      'cd up',
      'put -p *.csv',
      'put -r tree',
      'ls -1',
      'ls -l one.csv',
      'rename two.csv deux.csv',
      'chmod 600 deux.csv',
      '-rm missing.csv',
      'cd ..',
      'reget big.bin',
      'get -r up fetched',
      'df',
      'pwd',
      'lpwd',
      'bye',
    ].join('\n');
    const args = ['-P', String(sshd.port), '-i', key, '-o', 'StrictHostKeyChecking=accept-new'];
    args.push('-o', `UserKnownHostsFile=${join(dir, 'kh')}`, '-b', '-', `${sshd.user}@127.0.0.1`);
    const run = await ferrySftp(args, { input: `${batch}\n` });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Permanently added '\[127\.0\.0\.1\]:\d+' \(ED25519\)/);
    assert.match(
      await readFile(join(dir, 'kh'), 'utf8'),
      new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `),
    );
    assert.match(
      run.stdout,
      /sftp> put -p \*\.csv\nUploading .*one\.csv to .*\/up\/one\.csv\nUploading .*two\.csv/,
    );
    assert.match(run.stdout, /sftp> ls -1\none\.csv\ntree\ntwo\.csv\n/);
    assert.match(run.stdout, /sftp> -rm missing\.csv/);
    assert.match(run.stdout, /Remote working directory: /);
    assert.equal((await stat(join(sshd.root, 'up', 'one.csv'))).mtime.getTime(), old.getTime());
    assert.equal((await stat(join(sshd.root, 'up', 'deux.csv'))).mode & 0o777, 0o600);
    assert.equal(await readFile(join(sshd.root, 'up', 'tree', 'sub', 'deep.txt'), 'utf8'), 'deep');
    assert.deepEqual(await readFile(join(local, 'big.bin')), Buffer.alloc(300_000, 7));
    assert.equal(await readFile(join(local, 'fetched', 'tree', 'sub', 'deep.txt'), 'utf8'), 'deep');
    assert.equal(await readFile(join(local, 'fetched', 'deux.csv'), 'utf8'), '22');

    const failing = await ferrySftp(args.slice(0, -3).concat(['-b', '-', `${sshd.user}@127.0.0.1`]), {
      input: 'get nothing-here.bin\npwd\n',
    });
    assert.equal(failing.code, 1);
    assert.doesNotMatch(failing.stdout, /Remote working directory/);
  } finally {
    await close();
  }
});

test('an interactive session on a pseudo-terminal asks about the host key and the key passphrase, then works', async () => {
  const { dir, sshd, close } = await setup();
  try {
    // A passphrase-protected key: the passphrase is read without echo.
    const key = join(dir, 'locked');
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-f', key]);
    await writeFile(join(sshd.dir, 'authorized_keys'), await readFile(`${key}.pub`, 'utf8'));
    await writeFile(join(sshd.root, 'hello.txt'), 'hi there');
    const knownHosts = join(dir, 'known_hosts');
    // bin/ferry.js finds dist/ (or the sources) relative to itself, so the session can run in the test's own directory.
    const command = [
      process.execPath,
      BIN,
      'sftp',
      '-P',
      String(sshd.port),
      '-i',
      key,
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      `${sshd.user}@127.0.0.1`,
    ]
      .map((a) => `'${a}'`)
      .join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: dir,
      env: { ...process.env, FERRY_LOG_LEVEL: 'silent', TERM: 'dumb' },
    });
    let screen = '';
    const waiters: { pattern: RegExp; resolve(): void }[] = [];
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      for (const w of [...waiters]) {
        if (w.pattern.test(screen)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const expectThenType = async (pattern: RegExp, text: string) => {
      await Promise.race([
        new Promise<void>((resolve) => {
          if (pattern.test(screen)) resolve();
          else waiters.push({ pattern, resolve });
        }),
        exited.then(() => assert.fail(`session ended waiting for ${pattern}:\n${screen}`)),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error(`timeout on ${pattern}:\n${screen}`)), 30_000),
        ),
      ]);
      child.stdin.write(text);
    };
    await expectThenType(/Enter passphrase for key/, 'open sesame\r');
    await expectThenType(/continue connecting \(yes\/no\/\[fingerprint\]\)\? /, 'yes\r');
    await expectThenType(/sftp> /, 'get hello.txt\r');
    await expectThenType(/Fetching [^\n]*hello\.txt[\s\S]*sftp> [\s\S]*$/, 'bye\r');
    assert.equal(await exited, 0, screen);
    assert.ok(screen.includes(sshd.hostKeySha256), 'the fingerprint was shown');
    assert.ok(!screen.includes('open sesame'), 'the passphrase was not echoed');
    assert.equal(await readFile(join(dir, 'hello.txt'), 'utf8'), 'hi there');
    assert.match(await readFile(knownHosts, 'utf8'), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
  } finally {
    await close();
  }
});
