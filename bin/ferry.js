#!/usr/bin/env node
// Entry point for `ferry`: runs the JavaScript that `npm ci` compiled and bundled into dist/bundle/ (`npm run build`).
// A checkout whose sources changed since that build runs them through tsx instead, slowly and with a
// warning, so a developer never runs code older than what they are reading.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The bundle is the build's last step: older than a source, it is older than the whole build.
const compiled = join(root, 'dist', 'bundle', 'main.js');
// The files tsconfig.build.json leaves out of the build: editing them leaves dist/ up to date.
const NOT_BUILT = /(\.test|-fixture|^contract)\.ts$/;

/** The first source file under `dir` changed after `builtAt` (relative to src/), or undefined. */
function newerSource(dir, prefix, builtAt) {
  // A walk by file types: Node 20's recursive readdirSync took ~20 ms of a command's start listing ~700 entries;
  // this walk, stats included, ~12 ms.
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = newerSource(path, `${prefix}${entry.name}/`, builtAt);
      if (found !== undefined) return found;
    } else if (entry.name.endsWith('.ts') && !NOT_BUILT.test(entry.name) && statSync(path).mtimeMs > builtAt)
      return `${prefix}${entry.name}`;
  }
  return undefined;
}

/** Why dist/ cannot be trusted, or undefined when it can (or when there are no sources to compare with). */
function staleReason() {
  const builtAt = statSync(compiled, { throwIfNoEntry: false })?.mtimeMs;
  if (builtAt === undefined) return 'dist/ has not been built';
  let newer;
  try {
    newer = newerSource(join(root, 'src'), '', builtAt);
  } catch {
    return undefined; // An install without (readable) sources runs what it has.
  }
  return newer === undefined ? undefined : `src/${newer} is newer than dist/`;
}

/**
 * Commands that move whole files on this process's event loop (`ferry sftp`, `ferry jobs run`) get the
 * old-generation floor the server's workers get (src/cli/serve.ts). V8 counts the buffers in flight against a
 * small old-generation limit and, without the floor, ran a mark-compact every ~11 MiB of a 1 GiB download: a
 * quarter of the client's CPU (docs/PERFORMANCE.md). V8 reads heap sizes only when a process starts, so such a
 * command runs itself once more with the flag, unless the operator set heap sizes (flags or NODE_OPTIONS).
 * The floor costs memory only while garbage exists.
 */
function transferHeapFlags() {
  const words = process.argv.slice(2).filter((word) => !word.startsWith('-'));
  const transfers = words[0] === 'sftp' || (words[0] === 'jobs' && words[1] === 'run');
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (!transfers || given.some((flag) => /^--(initial|max)-old-space-size/.test(flag))) return undefined;
  return ['--initial-old-space-size=256'];
}

const relaunched = process.env.FERRY_REEXEC === '1';
// Not passed on to what the command itself starts.
delete process.env.FERRY_REEXEC;
const heapFlags = relaunched ? undefined : transferHeapFlags();
if (relaunched) {
  // Run again by the launcher below: when it is gone (killed with SIGKILL, say), so is the command. It may
  // have gone before this line ran, with nobody listening for the news.
  const orphaned = () => process.kill(process.pid, 'SIGTERM');
  if (!process.connected) orphaned();
  else {
    process.channel.unref();
    process.on('disconnect', orphaned);
  }
}
if (heapFlags !== undefined) {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [...process.execArgv, ...heapFlags, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, FERRY_REEXEC: '1' },
  });
  // A terminal's ^C reaches both processes (one group): forwarded as well, the command would see two. Without a
  // terminal it can only have been sent to this process, and goes on.
  const terminal = process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY;
  process.on('SIGINT', () => terminal || child.kill('SIGINT'));
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(signal, () => child.kill(signal));
  child.on('error', (err) => {
    process.stderr.write(`ferry: could not start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  });
} else {
  await run();
}

async function run() {
  const stale = process.env.FERRY_SKIP_BUILD_CHECK === '1' ? undefined : staleReason();
  if (stale === undefined) {
    await import('../dist/bundle/main.js');
  } else {
    process.stderr.write(`ferry: ${stale}; running the sources through tsx (slow). Run 'npm run build'.\n`);
    const { register } = await import('tsx/esm/api');
    register();
    await import('../src/main.ts');
  }
}
