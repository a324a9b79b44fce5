// Small pieces of the benchmark's driver: scratch space, warm-up files, the machine and versions a run records,
// server logs on failure.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
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

/** What a run's JSON records beside its rows: the machine, and the versions of what ran. */
export async function runEnvironment(repo: string, scratch: string) {
  const packageVersion = async (file: string) =>
    JSON.parse(await readFile(join(repo, file), 'utf8')).version as string;
  return {
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      scratch,
    },
    versions: {
      node: process.version,
      openssh: await commandOutput('ssh', ['-V'], repo),
      ferry: await packageVersion('package.json'),
      ssh2: await packageVersion('node_modules/ssh2/package.json'),
      gitCommit: await commandOutput('git', ['describe', '--always', '--dirty'], repo),
    },
  };
}
