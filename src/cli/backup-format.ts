// The `ferry backup` container: its manifest, the files it may hold, and unpacking it with every file checked.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { StoreSummary } from '../store/sqlite/backup.js';
import { readTar } from '../util/tar.js';
import { CliError } from './common.js';

/** Version 1 of the container: a gzipped ustar archive whose first entry is `manifest.json`. */
export const FORMAT = 'ferry-backup';
export const FORMAT_VERSION = 1;
export const MANIFEST = 'manifest.json';
const MAX_MANIFEST_BYTES = 1 << 20;
/** Every name a backup may hold besides the manifest, and the mode it is restored with. */
const RESTORABLE: Readonly<Record<string, number>> = {
  'ferry.db': 0o600,
  'ferry.json': 0o600,
  'master.key': 0o600,
};

export interface BackupFile {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

/** The manifest, also the documentation of the format (docs/OPERATIONS.md). */
export interface BackupManifest {
  readonly format: typeof FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly ferryVersion: string;
  readonly sourceDataDir: string;
  readonly store: StoreSummary;
  readonly files: readonly BackupFile[];
  readonly masterKeyIncluded: boolean;
  /** The path the config file was read from, when one was in use. */
  readonly configFile: string | null;
  /** True when the config file's `masterKey` was left out of the backup. */
  readonly configMasterKeyRemoved: boolean;
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const describeContent = (b: Buffer, name: string): BackupFile => ({
  name,
  size: b.length,
  sha256: createHash('sha256').update(b).digest('hex'),
});

function parseManifest(text: string): BackupManifest {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw new CliError('not a Ferry backup: its manifest is not JSON');
  }
  if (manifest?.format !== FORMAT) throw new CliError('not a Ferry backup: unknown manifest format');
  if (manifest.formatVersion !== FORMAT_VERSION) {
    throw new CliError(
      `backup format version ${manifest.formatVersion} is not supported (this Ferry reads ${FORMAT_VERSION})`,
    );
  }
  if (!Array.isArray(manifest.files) || manifest.files.some((f) => !(f.name in RESTORABLE))) {
    throw new CliError('not a Ferry backup: its manifest lists unexpected files');
  }
  return manifest;
}

/** Unpacks the archive into `target`, checking every file against the manifest's size and SHA-256. */
export async function extract(file: string, target: string, created: string[]): Promise<BackupManifest> {
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  let manifest: BackupManifest | undefined;
  const seen = new Set<string>();
  try {
    await readTar(gunzip, async (entry, body) => {
      if (manifest === undefined) {
        if (entry.name !== MANIFEST || entry.size > MAX_MANIFEST_BYTES) {
          throw new CliError(`not a Ferry backup: it does not start with ${MANIFEST}`);
        }
        const parts: Buffer[] = [];
        for await (const chunk of body) parts.push(chunk);
        manifest = parseManifest(Buffer.concat(parts).toString('utf8'));
        return;
      }
      const expected = manifest.files.find((f) => f.name === entry.name);
      if (!expected || seen.has(entry.name))
        throw new CliError(`backup holds an unexpected entry '${entry.name}'`);
      seen.add(entry.name);
      const path = join(target, entry.name);
      const hash = createHash('sha256');
      const output = createWriteStream(path, { mode: RESTORABLE[entry.name], flags: 'wx' });
      created.push(path);
      let size = 0;
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.length;
        if (!output.write(chunk)) await once(output, 'drain');
      }
      output.end();
      await once(output, 'close');
      if (size !== expected.size || hash.digest('hex') !== expected.sha256) {
        throw new CliError(
          `${entry.name} in the backup does not match its manifest (corrupt or altered backup)`,
        );
      }
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'Z_BUF_ERROR') throw new CliError(`${file} is truncated (incomplete gzip data)`);
    if (code === 'Z_DATA_ERROR') throw new CliError(`${file} is not a Ferry backup (not gzip data)`);
    throw err;
  }
  if (!manifest) throw new CliError(`${file} is not a Ferry backup (empty archive)`);
  const missing = manifest.files.filter((f) => !seen.has(f.name)).map((f) => f.name);
  if (missing.length > 0) throw new CliError(`backup is incomplete: ${missing.join(', ')} missing`);
  return manifest;
}
