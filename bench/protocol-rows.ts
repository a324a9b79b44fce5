// What the rows that compare another protocol (FTPS, the web client) against a reference need from the run:
// one place for the options and the random source file each of them writes for itself.
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { writeRandomFile } from './files.js';
import { spread } from './pgp-folder.js';
import { type Measurement, median } from './scenarios.js';
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

type Columns = { ferry: number[]; openssh: number[] };

/** One direction's measured runs: MiB/s per column, and the server's CPU seconds per GiB for each run. */
export interface DirectionRuns {
  readonly id: string;
  readonly label: string;
  readonly mibPerS: Columns;
  readonly cpuPerGib: Columns;
}

/** Throughput rows (higher is better, a target ratio), each with its spread and its median server CPU per GiB. */
export function throughputRows(target: number, directions: readonly DirectionRuns[]): Measurement[] {
  return directions.map((d) => ({
    id: d.id,
    label: d.label,
    unit: 'MiB/s',
    better: 'higher' as const,
    target: { kind: 'ratio-at-least' as const, value: target },
    runs: d.mibPerS,
    extra: {
      ...spread(d.mibPerS, 'MiB/s'),
      'server CPU s/GiB': { ferry: median(d.cpuPerGib.ferry), openssh: median(d.cpuPerGib.openssh) },
    },
  }));
}
