// The plaintext size of a stored message (decrypt-on-download folders), kept beside it in a hidden record.
import posix from 'node:path/posix';
import { withFields } from '../../util/with-fields.js';
import type { Fs, FsDir, FsDirEntry, FsStat } from '../types.js';

/** Hidden from listings and unreachable by name, like every `.ferry-part.` name. */
const RECORD_PREFIX = '.ferry-part.pgp-size.';

function recordOf(path: string): string {
  return posix.join(posix.dirname(path), `${RECORD_PREFIX}${posix.basename(path)}`);
}

/**
 * Records `plain` bytes for the message at `path` together with the message's size, so a record that outlived
 * its file (renamed, replaced by other means) is recognised as stale and ignored. Best effort: a name too long
 * for the prefix simply has no record (its stat shows the stored size).
 */
export async function recordPlainSize(fs: Fs, path: string, plain: number): Promise<void> {
  const cipher = (await fs.stat(path)).size;
  const file = await fs.open(
    recordOf(path),
    { read: false, write: true, create: true, truncate: true, noFollow: true },
    0o600,
  );
  try {
    await file.write(0, Buffer.from(`${plain} ${cipher}\n`));
  } finally {
    await file.close();
  }
}

/** The recorded plaintext size of the message at `path` whose stored size is `cipher`; undefined when unknown. */
export async function plainSizeOf(fs: Fs, path: string, cipher: number): Promise<number | undefined> {
  try {
    const file = await fs.open(recordOf(path), { read: true, write: false, noFollow: true });
    try {
      const [plain, size] = (await file.read(0, 64)).toString('latin1').trim().split(' ').map(Number);
      return size === cipher && Number.isSafeInteger(plain) ? plain : undefined;
    } finally {
      await file.close();
    }
  } catch {
    return undefined; // no record (encrypted before decrypt-on-download was set, or a name too long): stored size
  }
}

export async function forgetPlainSize(fs: Fs, path: string): Promise<void> {
  await fs.unlink(recordOf(path)).catch(() => undefined); // most files have no record
}

/** A stat with the plaintext size when the record knows it. */
export async function withPlainSize(fs: Fs, path: string, stat: FsStat): Promise<FsStat> {
  if (stat.kind !== 'file') return stat;
  const plain = await plainSizeOf(fs, path, stat.size);
  return plain === undefined ? stat : withFields(stat, { size: plain });
}

/** A listing whose messages (names `matches` accepts) show their plaintext sizes. */
export function plainSizeListing(
  fs: Fs,
  dir: FsDir,
  path: string,
  matches: (name: string) => boolean,
): FsDir {
  return {
    async read(): Promise<FsDirEntry[] | null> {
      const batch = await dir.read();
      if (batch === null) return null;
      return Promise.all(
        batch.map(async (e) =>
          matches(e.name)
            ? withFields(e, { stat: await withPlainSize(fs, posix.join(path, e.name), e.stat) })
            : e,
        ),
      );
    },
    close: () => dir.close(),
    get resolvedPath() {
      return dir.resolvedPath;
    },
  };
}
