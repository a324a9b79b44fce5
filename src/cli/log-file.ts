// The optional log file of `ferry serve` (config logFile, logFileMaxBytes): the JSON log also appended there, rotated by size.
import { resolve } from 'node:path';
import type { FerryConfig } from '../config/schema.js';
import { setLogFileSink } from '../logger.js';
import { RotatingFile } from '../util/rotating-file.js';

/** Rotated files kept beside the log file: logFile.1 (newest) … logFile.5. */
export const LOG_FILES_KEPT = 5;

/** Opens the configured log file for this process (each worker opens its own; they rotate it together). */
export function useLogFile(config: FerryConfig): void {
  if (config.logFile === undefined) return;
  const path = resolve(config.logFile);
  setLogFileSink(
    new RotatingFile(path, {
      maxBytes: config.logFileMaxBytes,
      keep: LOG_FILES_KEPT,
      onError: (err) => process.stderr.write(`ferry: cannot write the log file ${path}: ${err.message}\n`),
    }),
  );
}
