// Memory and CPU time of a server and all its descendant processes, read from /proc (RSS summed, PSS, utime+stime).
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessMemory {
  readonly pid: number;
  /** VmRSS, bytes: every page the process maps, shared ones (the node binary, libraries) included. */
  readonly rssBytes: number;
  /** Pss, bytes: shared pages divided between the processes that map them. */
  readonly pssBytes: number;
}

export interface TreeMemory {
  readonly processes: number;
  /** Each process of the tree, the root first. */
  readonly each: readonly ProcessMemory[];
  /** Sum of VmRSS over the tree, bytes (shared pages counted once per process, as `ps` would). */
  readonly rssBytes: number;
  /** Sum of Pss over the tree, bytes (shared pages split between the processes mapping them). */
  readonly pssBytes: number;
}

/** Fields of /proc/PID/stat after the command name, so fields[0] is field 3 (state) of proc(5). */
async function statFields(pid: number): Promise<string[] | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

async function parentOf(pid: number): Promise<number | undefined> {
  const fields = await statFields(pid);
  return fields ? Number(fields[1]) : undefined;
}

/** Kernel clock ticks per second (USER_HZ); 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time used by the tree, ms: utime+stime of the live processes plus cutime+cstime (children already
 * reaped, such as sshd's finished per-connection processes). Only differences between two readings mean much.
 */
export async function treeCpuMs(root: number): Promise<number> {
  let total = 0;
  for (const ms of (await treeCpuByPid(root)).values()) total += ms;
  return total;
}

/**
 * CPU time of this process's children that have exited and been waited for (cutime+cstime of /proc/self), ms:
 * the difference across one client run is that client's CPU, start-up included, when nothing else exits meanwhile.
 */
export async function reapedChildrenCpuMs(): Promise<number> {
  const fields = await statFields(process.pid);
  return fields ? ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND : Number.NaN;
}

/** The same per process of the tree (pid → ms), to see which worker did the work. */
export async function treeCpuByPid(root: number): Promise<Map<number, number>> {
  const byPid = new Map<number, number>();
  for (const pid of await processTree(root)) {
    const fields = await statFields(pid);
    let ticks = 0;
    // proc(5) fields 14..17 (utime, stime, cutime, cstime) are indexes 11..14 here.
    if (fields) for (let i = 11; i <= 14; i++) ticks += Number(fields[i]);
    byPid.set(pid, (ticks * 1000) / TICKS_PER_SECOND);
  }
  return byPid;
}

/** `root` and every process descending from it. */
export async function processTree(root: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const children = new Map<number, number[]>();
  await Promise.all(
    pids.map(async (pid) => {
      const parent = await parentOf(pid);
      if (parent === undefined) return;
      const list = children.get(parent) ?? [];
      list.push(pid);
      children.set(parent, list);
    }),
  );
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

async function kibField(path: string, field: string): Promise<number> {
  try {
    const text = await readFile(path, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function treeMemory(root: number): Promise<TreeMemory> {
  const pids = await processTree(root);
  const each: ProcessMemory[] = [];
  for (const pid of pids) {
    each.push({
      pid,
      rssBytes: await kibField(`/proc/${pid}/status`, 'VmRSS'),
      pssBytes: await kibField(`/proc/${pid}/smaps_rollup`, 'Pss'),
    });
  }
  const sum = (field: 'rssBytes' | 'pssBytes') => each.reduce((total, p) => total + p[field], 0);
  return { processes: pids.length, each, rssBytes: sum('rssBytes'), pssBytes: sum('pssBytes') };
}
