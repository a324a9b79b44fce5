// The parts of an encrypt folder's SEIPD message that need no openpgp.js: what both of its writers start from
// (keys/pgp-seipd-writer.ts on the calling thread, vfs/pgp/threaded-seipd-file.ts on a thread of its own).
import { randomBytes } from 'node:crypto';

/*
 * Why a module of its own: vfs/pgp/pgp-fs.ts imports the threaded writer at start-up, and pgp-seipd-writer.ts
 * imports openpgp.js, which loads on first use (docs/ARCHITECTURE.md): through it, every idle worker held
 * openpgp.js (~4-5 MB of each worker's private memory; test/serve-modules.test.ts keeps it out).
 */

/** AES's block, bytes. */
export const BLOCK = 16;

/** What starts a message: its session key packets (`head`) and the key they carry. */
export interface SeipdBegin {
  readonly head: Buffer;
  readonly sessionKey: Buffer;
}

/** The encrypted body's first bytes: 16 random ones and their last two repeated (the quick check GnuPG makes). */
export function seipdPrefix(): Buffer {
  const prefix = randomBytes(BLOCK + 2);
  prefix.copy(prefix, BLOCK, BLOCK - 2, BLOCK);
  return prefix;
}

/** The literal packet's date: now, as openpgp.js writes it too (GnuPG shows it as the file's date). */
export function literalDate(): number {
  return Math.floor(Date.now() / 1000);
}
