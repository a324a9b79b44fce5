// A job's files: which source files a run picks (pattern, no partials) and what happens to a source once copied.
import { join, posix, relative, resolve, sep } from 'node:path';
import { isReservedName } from '../core/virtual-path.js';
import type { TransferJobRecord } from '../store/types.js';
import { LocalFs } from '../vfs/local/local-fs.js';
import type { Fs } from '../vfs/types.js';
import { fileMatcher } from './glob.js';
import type { SourceFile } from './ledger.js';
import type { PartnerLink } from './partner-link.js';

/**
 * A name a partner's listing may hand us that is not one plain file name: a path (`a/b`, `..`), or control
 * characters (a line break would end an FTP command early). A hostile server's listing is skipped there.
 */
const UNSAFE_NAME = /[/\\\x00-\x1f\x7f]|^\.\.?$/;

export async function remoteSources(link: PartnerLink, job: TransferJobRecord): Promise<SourceFile[]> {
  const matches = fileMatcher(job.pattern);
  return (await link.listFiles(job.remoteDir)).filter(
    (f) => !UNSAFE_NAME.test(f.name) && matches(f.name) && !isPartial(f.name),
  );
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
  link: PartnerLink,
  fs: Fs,
  job: TransferJobRecord,
  name: string,
  moveDir: string | null,
): Promise<void> {
  if (job.direction === 'pull') {
    const source = posix.join(job.remoteDir, name);
    if (moveDir === null) await link.remove(source);
    else await link.moveInto(source, moveDir.startsWith('/') ? moveDir : posix.join(job.remoteDir, moveDir));
  } else if (moveDir === null) await fs.unlink(`/${name}`);
  else await moveLocal(fs, resolve(job.localDir), name, resolve(job.localDir, moveDir));
}
