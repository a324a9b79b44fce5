// Users' homes on S3: one client per process, each home a prefix `<storage.prefix>/<home>` in the bucket.
import { isAbsolute, relative } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Fs } from '../types.js';
import { type S3Endpoint, s3ClientOf } from './client.js';
import type { MultipartLedger } from './multipart-ledger.js';
import { type SweepOutcome, sweepAbandonedUploads } from './multipart-sweeper.js';
import { S3Fs } from './s3-fs.js';

export interface S3StorageSettings extends S3Endpoint {
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * The key prefix of a home: the home's path under the homes directory (`alice` for <dataDir>/homes/alice), or
 * the whole path for a home set elsewhere (`/srv/x` → `srv/x`), under the configured prefix.
 */
export function homePrefixOf(storagePrefix: string, homesDir: string, homeDir: string): string {
  const inside = relative(homesDir, homeDir);
  const home = inside !== '' && !inside.startsWith('..') && !isAbsolute(inside) ? inside : homeDir;
  return [storagePrefix, home]
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/');
}

/**
 * A factory of home Fs's sharing one client (its connection pool); `client` is exposed for disposal. With a
 * `ledger` (the store's record of multipart uploads), uploads cut by a crash are continued on any node, and
 * `sweepAbandoned` aborts those nobody continued.
 */
export function s3HomeFs(
  settings: S3StorageSettings,
  homesDir: string,
  ledger?: MultipartLedger,
): {
  client: S3Client;
  home: (identity: { readonly homeDir: string }) => Fs;
  sweepAbandoned: ((before: Date) => Promise<SweepOutcome>) | undefined;
} {
  const client = s3ClientOf(settings);
  const { bucket } = settings;
  return {
    client,
    home: (identity) =>
      new S3Fs({ client, bucket, prefix: homePrefixOf(settings.prefix, homesDir, identity.homeDir), ledger }),
    sweepAbandoned: ledger && ((before) => sweepAbandonedUploads({ client, bucket, ledger }, before)),
  };
}
