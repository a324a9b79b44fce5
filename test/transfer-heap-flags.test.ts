// `ferry sftp` and `ferry jobs run` run themselves once more with the old-generation floor (bin/ferry.js): the
// command's process has the flag, signals reach it, and it never outlives the process that was started.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'ferry.js');

/** The pids of `pid`'s children (from /proc), and a process's command line. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
/** Running: a zombie (dead, not yet reaped by whoever inherited it) is not. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function until(what: string, test: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('transfer commands run with the heap floor', () => {
  // A server that accepts and never answers: the command waits in its handshake while it is looked at.
  let silent: Server;
  let port: number;
  const held: Socket[] = [];
  beforeEach(async () => {
    silent = createServer((socket) => held.push(socket));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    port = (silent.address() as { port: number }).port;
  });
  afterEach(() => {
    for (const socket of held.splice(0)) socket.destroy();
    silent.close();
  });

  const start = () =>
    spawn(process.execPath, [BIN, 'sftp', '-q', '-b', '-', '-P', String(port), 'someone@127.0.0.1'], {
      cwd: ROOT,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { ...process.env, FERRY_LOG_LEVEL: 'silent' },
    });

  it('the command runs in a child with --initial-old-space-size, and SIGTERM reaches it', async () => {
    const launcher = start();
    // A process just forked shows its parent's command line until it has exec'd: first the launcher (which would
    // show the test runner's), then the command (which would show the launcher's); in the middle of its exec, an
    // empty one. CI caught all three once.
    await until('the launcher to exec', () => cmdline(launcher.pid!).includes(BIN));
    const launcherLine = cmdline(launcher.pid!).join(' ');
    await until('the command process', () => {
      const [child] = childrenOf(launcher.pid!);
      if (child === undefined) return false;
      const line = cmdline(child);
      return line.includes(BIN) && line.join(' ') !== launcherLine;
    });
    const [command] = childrenOf(launcher.pid!);
    assert.ok(cmdline(command!).includes('--initial-old-space-size=256'), cmdline(command!).join(' '));
    assert.ok(!cmdline(launcher.pid!).includes('--initial-old-space-size=256'));
    const exited = once(launcher, 'exit');
    launcher.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.ok(code !== 0 || signal === 'SIGTERM', `exit ${code} ${signal}`);
    await until('the command to end with its launcher', () => !alive(command!));
  });

  it('the command does not outlive a launcher killed with SIGKILL', async () => {
    const launcher = start();
    await until('the command process', () => childrenOf(launcher.pid!).length === 1);
    const [command] = childrenOf(launcher.pid!);
    launcher.kill('SIGKILL');
    await until('the orphaned command to end', () => !alive(command!));
  });

  it('heap sizes the operator gave are kept, and nothing is started twice', async () => {
    const launcher = spawn(
      process.execPath,
      ['--max-old-space-size=512', BIN, 'sftp', '-q', '-b', '-', '-P', String(port), 'someone@127.0.0.1'],
      { cwd: ROOT, stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, FERRY_LOG_LEVEL: 'silent' } },
    );
    await until('the connection', () => held.length === 1);
    assert.deepEqual(childrenOf(launcher.pid!), [], 'no second process');
    const exited = once(launcher, 'exit');
    launcher.kill('SIGTERM');
    await exited;
  });
});
