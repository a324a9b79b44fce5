// Usage of a home as the quota counts it, read from the disk: `ferry quota scan` and the scan at server start.
import type { Fs } from '../vfs/types.js';

export interface DiskUsage {
  readonly bytes: number;
  readonly files: number;
}

/**
 * Every regular file under the root (partials of uploads in progress included), each directory entry once:
 * a hard link counts as a file of its own, as QuotaFs counts it. Symlinks are not followed; a directory that
 * vanishes while it is walked is skipped.
 */
export async function scanUsage(fs: Fs, root = '/'): Promise<DiskUsage> {
  let bytes = 0;
  let files = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let listing: Awaited<ReturnType<Fs['opendir']>>;
    try {
      listing = await fs.opendir(dir);
    } catch {
      continue;
    }
    try {
      for (let batch = await listing.read(); batch !== null; batch = await listing.read()) {
        for (const entry of batch) {
          const path = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
          if (entry.stat.kind === 'file') {
            bytes += entry.stat.size;
            files++;
          } else if (entry.stat.kind === 'directory') {
            pending.push(path);
          }
        }
      }
    } finally {
      await listing.close();
    }
  }
  return { bytes, files };
}
