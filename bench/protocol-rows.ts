// What the rows that compare another protocol (FTPS, the web client) against a reference need from the run:
// one place for the options and the random source file each of them writes for itself.
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { writeRandomFile } from './files.js';
import type { BenchLayout } from './servers.js';
import type { ClientContext } from './sftp-client.js';

export interface ProtocolRowsOptions {
  readonly repo: string;
  readonly layout: BenchLayout;
  readonly cleanup: Cleanup;
  readonly client: ClientContext;
  readonly workers: number;
  /** Client-side scratch directory. */
  readonly clientDir: string;
  /** Size of the one large file each row moves up and down. */
  readonly bytes: number;
  readonly runs: number;
  readonly log: (line: string) => void;
}

export interface SourceFile {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** A random file of `options.bytes` named `name` in the client directory. */
export async function sourceFile(options: ProtocolRowsOptions, name: string): Promise<SourceFile> {
  const path = join(options.clientDir, name);
  return { path, bytes: options.bytes, sha256: await writeRandomFile(path, options.bytes) };
}
