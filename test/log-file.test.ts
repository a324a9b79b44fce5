// `ferry serve` with logFile: the JSON log goes to stderr and to the file, which is rotated by size across workers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sftpBatch } from './helpers/openssh.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'ferry.js');
let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ferry-logfile-'));
});
after(() => rm(work, { recursive: true, force: true }));

test('the log is written to stderr and to logFile, rotated at logFileMaxBytes, every line whole JSON', async () => {
  const dataDir = join(work, 'data');
  const logDir = join(work, 'logs');
  const logFile = join(logDir, 'ferry.log');
  await mkdir(logDir);
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1', '--sftp-port', '0', '--workers', '2'],
    {
      env: {
        ...process.env,
        FERRY_LOG_LEVEL: 'info',
        FERRY_LOG_FILE: logFile,
        FERRY_LOG_FILE_MAX_BYTES: '4096',
        FERRY_ALLOW_LIST: '127.0.0.1',
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = stdout.match(/listening on 127\.0\.0\.1:(\d+)/);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', () => reject(new Error(stdout + stderr)));
    });
    // Failed logins: each one logs a few lines (connection, authentication, disconnect) in one of the workers.
    await Promise.all(
      Array.from({ length: 12 }, () =>
        sftpBatch({ port, user: 'nobody', password: 'wrong', batch: 'pwd\n' }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await new Promise<void>((resolve) => {
      child.removeAllListeners('exit');
      child.on('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
  const names = (await readdir(logDir)).sort();
  assert.ok(names.includes('ferry.log') && names.includes('ferry.log.1'), `rotated: ${names.join(' ')}`);
  assert.ok(names.length <= 6, 'at most five rotated files are kept');
  assert.ok(!names.includes('ferry.log.rotating'));
  const fileLines: string[] = [];
  for (const name of names) {
    const text = await readFile(join(logDir, name), 'utf8');
    // A file may overshoot the limit by what other workers appended while one rotated, never by much.
    assert.ok((await stat(join(logDir, name))).size < 4096 * 3, `${name} size`);
    fileLines.push(...text.split('\n').filter((l) => l !== ''));
  }
  const pids = new Set<number>();
  for (const l of fileLines) pids.add((JSON.parse(l) as { pid: number }).pid);
  assert.ok(pids.size >= 2, 'both workers (and the primary) write to the file');
  const stderrLines = stderr.split('\n').filter((l) => l.startsWith('{'));
  assert.ok(stderrLines.length > 0, 'stderr still carries the log');
  for (const l of stderrLines) assert.ok(fileLines.includes(l), `the file has every stderr line: ${l}`);
});
