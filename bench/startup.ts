// The start-up group: how long `ferry` commands take and what an idle server costs (Ferry alone: sshd has no peer).
import { execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Cleanup } from './cleanup.js';
import { awaitListening } from './listening.js';
import { treeMemory } from './proc-stats.js';
import { type Measurement, median } from './scenarios.js';
import { NPM_START_NODE_FLAGS } from './servers.js';

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StartupContext {
  /** The checkout: `bin/ferry.js` is run from it, as a user would. */
  readonly repo: string;
  /** Scratch directory for the data dirs. */
  readonly root: string;
  readonly cleanup: Cleanup;
  readonly runs: number;
  readonly log: (line: string) => void;
}

/** Users in the store `ferry users list` reads: a few hundred more than a busy installation. */
export const STARTUP_USERS = 1000;
/** Workers of the idle server: the target is for the primary plus two workers. */
const IDLE_WORKERS = 2;
/**
 * After "listening": workers finish their start-up work (host key poll timer, scheduler), run their idle GC
 * once they have been idle 5 s (src/cli/idle-gc.ts), and V8's memory reducer, which that GC arms, gets its
 * first chance ~8 s later. What an idle server holds, not its first seconds.
 */
const IDLE_SETTLE_MS = 20_000;

function ferryOnly(values: number[]): Measurement['runs'] {
  return { ferry: values, openssh: [] };
}

/** Wall time of one `node bin/ferry.js ARGS` run to its exit, seconds. */
async function commandSeconds(ctx: StartupContext, args: string[]): Promise<number> {
  const started = performance.now();
  await execFileAsync(process.execPath, ['bin/ferry.js', ...args], {
    cwd: ctx.repo,
    maxBuffer: 64 * 1024 * 1024,
  });
  return (performance.now() - started) / 1000;
}

/** A data dir with `count` users (no credentials: listing them is the question), made in this process. */
async function storeWithUsers(dataDir: string, count: number): Promise<void> {
  // Imported here, not at the top: the other scenarios treat Ferry as a black box and load none of it.
  const { AppContext } = await import('../src/context.js');
  const { configFromOptions } = await import('../src/cli/common.js');
  const { addUser } = await import('../src/auth/user-admin.js');
  // 'create': what `ferry init` does (other commands refuse a data dir without a store).
  const ctx = await AppContext.create(configFromOptions({ dataDir }), 'create');
  try {
    for (let i = 0; i < count; i++) await addUser(ctx.store.users, { name: `user${i}` });
  } finally {
    await ctx.dispose();
  }
}

/** What an idle server holds, MB: summed over its processes, and per process (the primary first). */
interface IdleMemory {
  readonly rss: number;
  readonly pss: number;
  readonly each: string;
}

const MB = 2 ** 20;

/**
 * Starts `ferry serve --workers 2` on a fresh data dir and returns its processes' memory once idle. RSS counts
 * pages shared between the processes (the node binary: ~40 MB each) once per process, as `ps` and `top` do;
 * PSS divides them between the processes that map them, so it sums to what the server really occupies (and
 * drops when other Node processes run on the machine, as they share the binary's pages too).
 */
async function idleServerMemory(ctx: StartupContext, dataDir: string, threads: boolean): Promise<IdleMemory> {
  const child = ctx.cleanup.process(
    spawn(
      process.execPath,
      [
        // Worker processes get their heap sizes from the primary; threads share the process's, as npm start sets them.
        ...(threads ? NPM_START_NODE_FLAGS : []),
        'bin/ferry.js',
        'serve',
        '--data-dir',
        dataDir,
        '--listen',
        '127.0.0.1',
        '--sftp-port',
        '0',
        '--workers',
        String(IDLE_WORKERS),
        ...(threads ? ['--worker-mode', 'threads'] : []),
        // The HTTP API runs, as on a default install, but on a free port: 8080 may be taken on this machine.
        '--http-listen',
        '127.0.0.1:0',
      ],
      { cwd: ctx.repo, detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    ),
    true,
  );
  return settledMemory(ctx, child, /SFTP listening on/, 'ferry serve', threads ? 1 : IDLE_WORKERS + 1);
}

/** A started server's memory once idle (IDLE_SETTLE_MS after `ready`), median of three samples; stops it. */
async function settledMemory(
  ctx: StartupContext,
  child: ReturnType<typeof spawn>,
  ready: RegExp,
  what: string,
  processes: number,
): Promise<IdleMemory> {
  try {
    await awaitListening(child, ready, what);
    await sleep(IDLE_SETTLE_MS);
    const samples = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await sleep(500);
      samples.push(await treeMemory(child.pid!));
    }
    const found = median(samples.map((s) => s.processes));
    if (found < processes) throw new Error(`idle ${what} has ${found} processes`);
    const last = samples.at(-1)!;
    return {
      rss: median(samples.map((s) => s.rssBytes)) / MB,
      pss: median(samples.map((s) => s.pssBytes)) / MB,
      each: last.each
        .map((p) => `${(p.rssBytes / MB).toFixed(0)}/${(p.pssBytes / MB).toFixed(0)}`)
        .join(' + '),
    };
  } finally {
    await ctx.cleanup.stop(child, 10_000);
  }
}

/** `ferry --version`, `ferry users list` on 1 000 users, idle `serve --workers 2`: medians against the targets. */
export async function startup(ctx: StartupContext): Promise<Measurement[]> {
  const version: Measurement = {
    id: 'startup-version',
    label: 'ferry --version',
    unit: 's',
    better: 'lower',
    runs: ferryOnly([]),
    target: { kind: 'ferry-at-most', value: 0.3 },
  };
  const list: Measurement = {
    id: 'startup-users-list',
    label: `ferry users list (${STARTUP_USERS} users)`,
    unit: 's',
    better: 'lower',
    runs: ferryOnly([]),
    target: { kind: 'ferry-at-most', value: 0.5 },
  };
  const idle: Measurement = {
    id: 'startup-idle-rss',
    label: `idle serve --workers ${IDLE_WORKERS} (all processes)`,
    unit: 'MB RSS',
    better: 'lower',
    runs: ferryOnly([]),
    target: { kind: 'ferry-at-most', value: 150 },
  };
  const usersDir = join(ctx.root, 'startup-users');
  ctx.log(`startup: creating a store with ${STARTUP_USERS} users`);
  await storeWithUsers(usersDir, STARTUP_USERS);
  // Untimed: the first run pays for cold file caches, which is not what a user scripting commands sees.
  await commandSeconds(ctx, ['--version']);
  await commandSeconds(ctx, ['users', 'list', '--data-dir', usersDir]);
  for (let run = 0; run < ctx.runs; run++) {
    version.runs.ferry.push(await commandSeconds(ctx, ['--version']));
    list.runs.ferry.push(await commandSeconds(ctx, ['users', 'list', '--data-dir', usersDir]));
    ctx.log(
      `  run ${run + 1}: --version ${version.runs.ferry.at(-1)!.toFixed(2)} s, ` +
        `users list ${list.runs.ferry.at(-1)!.toFixed(2)} s`,
    );
  }
  const threads: Measurement = {
    id: 'startup-idle-rss-threads',
    label: `idle serve --workers ${IDLE_WORKERS} --worker-mode threads (one process; node flags as npm start)`,
    unit: 'MB RSS',
    better: 'lower',
    runs: ferryOnly([]),
    target: { kind: 'ferry-at-most', value: 150 },
  };
  const pss: number[] = [];
  const threadsPss: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    // A fresh data dir each time: the first-run work (host keys, admin) is part of what a server holds on to.
    // The two worker modes take turns, so both see the same machine.
    const dataDir = join(ctx.root, `startup-idle-${run}`);
    await mkdir(dataDir);
    const memory = await idleServerMemory(ctx, dataDir, false);
    idle.runs.ferry.push(memory.rss);
    pss.push(memory.pss);
    ctx.log(
      `  run ${run + 1}: ${idle.label}: ${memory.rss.toFixed(0)} MB RSS, ${memory.pss.toFixed(0)} MB PSS ` +
        `(RSS/PSS primary + workers: ${memory.each} MB)`,
    );
    const threadsDir = join(ctx.root, `startup-idle-threads-${run}`);
    await mkdir(threadsDir);
    const asThreads = await idleServerMemory(ctx, threadsDir, true);
    threads.runs.ferry.push(asThreads.rss);
    threadsPss.push(asThreads.pss);
    ctx.log(
      `  run ${run + 1}: ${threads.label}: ${asThreads.rss.toFixed(0)} MB RSS, ` +
        `${asThreads.pss.toFixed(0)} MB PSS`,
    );
  }
  const withPss = (m: Measurement, values: number[]): Measurement => ({
    ...m,
    extra: { 'MB PSS': { ferry: median(values), openssh: Number.NaN } },
  });
  return [version, list, withPss(idle, pss), withPss(threads, threadsPss)];
}
