// Re-wraps every container's data key under another key-encryption key: only headers are rewritten, never contents.
import { FerryError } from '../../errors.js';
import type { Fs } from '../types.js';
import {
  decodeHeader,
  encodeHeader,
  HEADER_SIZE,
  hasMagic,
  headerKeyId,
  MIN_CONTAINER_SIZE,
} from './container.js';
import type { StorageKeyRing } from './storage-keys.js';

export interface RekeyReport {
  /** Containers whose data key is now wrapped under the ring's current key. */
  rewrapped: number;
  /** Containers already under it (opened to check, left unchanged). */
  alreadyCurrent: number;
  /** Regular files that are not containers (stored before encryption was on). */
  plain: number;
  /** Containers that could not be re-wrapped: an unknown key, a damaged header, an I/O error. */
  failed: { path: string; message: string }[];
}

function childPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}

/**
 * Walks `root` on the stored (not decrypting) Fs and re-wraps each container whose key the ring holds under
 * `ring.current`. A header is 96 bytes rewritten in place at offset 0 (one write within a disk sector), and a
 * file's times are put back afterwards, so a partner's sync does not see every file as changed.
 */
export async function rekeyTree(fs: Fs, root: string, ring: StorageKeyRing): Promise<RekeyReport> {
  const report: RekeyReport = { rewrapped: 0, alreadyCurrent: 0, plain: 0, failed: [] };
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const listing = await fs.opendir(dir);
    try {
      for (let batch = await listing.read(); batch !== null; batch = await listing.read()) {
        for (const entry of batch) {
          const path = childPath(dir, entry.name);
          if (entry.stat.kind === 'directory') pending.push(path);
          else if (entry.stat.kind === 'file') await rekeyFile(fs, path, entry.stat.size, ring, report);
        }
      }
    } finally {
      await listing.close();
    }
  }
  return report;
}

async function rekeyFile(
  fs: Fs,
  path: string,
  size: number,
  ring: StorageKeyRing,
  report: RekeyReport,
): Promise<void> {
  if (size < MIN_CONTAINER_SIZE) {
    report.plain++;
    return;
  }
  try {
    const file = await fs.open(path, { read: true, write: true, noFollow: true });
    try {
      const head = await file.read(0, HEADER_SIZE);
      if (!hasMagic(head)) {
        report.plain++;
        return;
      }
      const keys = decodeHeader(head, ring, path);
      if (headerKeyId(head).equals(ring.current.id)) {
        report.alreadyCurrent++;
        return;
      }
      const before = await file.stat();
      await file.write(0, encodeHeader(ring, keys));
      await file.sync();
      await file.utimes(before.atimeMs / 1000, before.mtimeMs / 1000);
      report.rewrapped++;
    } finally {
      await file.close();
    }
  } catch (err) {
    const message = err instanceof FerryError ? err.message : String(err);
    report.failed.push({ path, message: message.startsWith(path) ? message : `${path}: ${message}` });
  }
}
