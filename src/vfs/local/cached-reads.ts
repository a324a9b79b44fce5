// Which data reads of a local root run on the event loop: those the page cache answers. A thread-pool read costs
// a hand-over and two wake-ups (on a VM, interrupts to the other CPU); a read of cached data is a copy, a few
// microseconds per 32 KiB. Eight concurrent downloads from cached files used 7-11 % less server CPU per GiB so
// (docs/PERFORMANCE.md, stop 63).
import { readFileSync, readvSync } from 'node:fs';
import { confine } from './confine.js';
import type { ReadCached } from './read-queue.js';

/** statfs f_type of the memory file systems (linux/magic.h): tmpfs, ramfs. */
const MEMORY_FILE_SYSTEMS = new Set([0x01021994, 0x858458f6]);

let swapActive: boolean | undefined;

/** Whether the machine has swap on (/proc/swaps lists more than its header): a tmpfs page may then be on disk. */
function hasSwap(): boolean {
  if (swapActive === undefined) {
    try {
      swapActive = readFileSync('/proc/swaps', 'utf8').trim().split('\n').length > 1;
    } catch {
      swapActive = true;
    }
  }
  return swapActive;
}

/** Whether a file system of this statfs type holds all its data in memory: tmpfs or ramfs, with no swap on. */
export function inMemoryWithoutSwap(type: number): boolean {
  return MEMORY_FILE_SYSTEMS.has(type) && !hasSwap();
}

/** A memory file system without swap holds all its data in memory: a read is a copy and never waits. */
const readMemory: ReadCached = (fd, buffers, position) => readvSync(fd, buffers, position);

/**
 * How a root whose metadata calls run inline reads cached data on the event loop, by its file system (statfs
 * f_type; undefined when not asked): tmpfs and ramfs without swap read there always; other file systems through
 * preadv2(RWF_NOWAIT), which takes what the page cache holds and leaves the rest to the pool (ext4, XFS, Btrfs
 * answer it; one that cannot is not asked again for that file).
 */
export function cachedReadsFor(type: number | undefined): ReadCached | undefined {
  if (type !== undefined && inMemoryWithoutSwap(type)) return readMemory;
  return confine.readCached?.bind(confine);
}
