// Small pieces of the benchmark's driver: scratch space, warm-up files, version strings, server logs on failure.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeRandomFile } from './files.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;

/** A command's first output (its version line), or 'unknown'. */
export async function commandOutput(command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd });
    return (stdout || stderr).trim();
  } catch {
    return 'unknown';
  }
}

/** A 1 MiB file for unmeasured warm-up transfers. */
export async function smallFile(dir: string): Promise<string> {
  const path = join(dir, 'small.bin');
  await writeRandomFile(path, MIB);
  return path;
}

/** The servers' logs are about to be deleted with the temp dir: show their ends, where the reason usually is. */
export async function printLogTails(dir: string): Promise<void> {
  for (const name of ['ferry.log', 'sshd.log']) {
    try {
      const lines = (await readFile(join(dir, name), 'utf8')).trimEnd().split('\n');
      process.stderr.write(`--- last lines of ${name} ---\n${lines.slice(-15).join('\n')}\n`);
    } catch {
      // That server never started.
    }
  }
}

/** /dev/shm when it is there (the comparison is about CPU, not disks), else the OS temp dir. */
export async function writableTmpfs(): Promise<string> {
  try {
    const probe = await mkdtemp('/dev/shm/ferry-probe-');
    await import('node:fs/promises').then((fs) => fs.rmdir(probe));
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}
