// A job's files: which source files a run picks (pattern, no partials) and what happens to a source once copied.
import { join, posix, relative, resolve, sep } from 'node:path';
import { isReservedName } from '../core/virtual-path.js';
import type { TransferJobRecord } from '../store/types.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import type { Fs } from '../vfs/types.js';
import type { SftpConnection } from './connection.js';
import { fileMatcher } from './glob.js';
import type { SourceFile } from './ledger.js';
import { isRegularFile } from './sftp-client.js';

export async function remoteSources(conn: SftpConnection, job: TransferJobRecord): Promise<SourceFile[]> {
  const matches = fileMatcher(job.pattern);
  return (await conn.sftp.list(job.remoteDir))
    .filter((e) => isRegularFile(e.attrs) && matches(e.filename) && !isPartial(e.filename))
    .map((e) => ({ name: e.filename, size: e.attrs.size ?? 0, mtime: e.attrs.mtime ?? 0 }));
}

/** A partial upload: ours and a session's (`.ferry-part.NAME`), or one left by Ferry before 0.2 (`.NAME.ferry-part`). */
function isPartial(name: string): boolean {
  return isReservedName(name) || name.endsWith('.ferry-part');
}

export async function localSources(fs: Fs, job: TransferJobRecord): Promise<SourceFile[]> {
  const matches = fileMatcher(job.pattern);
  const out: SourceFile[] = [];
  const dir = await fs.opendir('/');
  try {
    for (let batch = await dir.read(); batch !== null; batch = await dir.read()) {
      for (const { name, stat } of batch) {
        if (stat.kind !== 'file' || !matches(name) || isPartial(name)) continue;
        out.push({ name, size: stat.size, mtime: Math.floor(stat.mtimeMs / 1000) });
      }
    }
  } finally {
    await dir.close();
  }
  return out;
}

/**
 * Moves a pushed file to `hostDir` (move:DIR, relative to the job's directory). Inside that directory the
 * job's Fs does it; a directory the administrator named outside it is reached through an Fs rooted at the
 * nearest directory holding both, so the move is still confined to what the job's configuration names.
 */
async function moveLocal(fs: Fs, root: string, name: string, hostDir: string): Promise<void> {
  const inside = (dir: string, base: string) => {
    const rel = relative(base, dir);
    return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
  };
  let base = root;
  while (!inside(hostDir, base)) base = resolve(base, '..');
  const toPath = (hostPath: string) => `/${relative(base, hostPath).split(sep).join('/')}`;
  const moveFs = base === root ? fs : new LocalFs({ root: base });
  try {
    await moveFs.mkdir(toPath(hostDir), { recursive: true });
    await moveFs.rename(toPath(join(root, name)), posix.join(toPath(hostDir), name));
  } finally {
    if (moveFs !== fs) await moveFs.dispose?.();
  }
}

/** Deletes or moves the source once the copy is complete and verified. */
export async function afterTransfer(
  conn: SftpConnection,
  fs: Fs,
  job: TransferJobRecord,
  name: string,
  moveDir: string | null,
): Promise<void> {
  if (job.direction === 'pull') {
    const source = posix.join(job.remoteDir, name);
    if (moveDir === null) await conn.sftp.remove(source);
    else {
      const dir = moveDir.startsWith('/') ? moveDir : posix.join(job.remoteDir, moveDir);
      if (!(await conn.sftp.tryStat(dir))) await conn.sftp.mkdir(dir);
      await conn.sftp.rename(source, posix.join(dir, name), true);
    }
  } else if (moveDir === null) await fs.unlink(`/${name}`);
  else await moveLocal(fs, resolve(job.localDir), name, resolve(job.localDir, moveDir));
}
