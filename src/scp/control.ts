// Parses and formats scp control records (C file, D directory, E end of directory, T times) with bounds checks.
import { ProtocolError } from '../errors.js';

export type ControlRecord =
  | { readonly type: 'file'; readonly mode: number; readonly size: number; readonly name: string }
  | { readonly type: 'directory'; readonly mode: number; readonly name: string }
  | { readonly type: 'end-directory' }
  | { readonly type: 'times'; readonly mtime: number; readonly atime: number };

/** OpenSSH reads control lines into a 2048-byte buffer; anything longer is not from a real client. */
export const MAX_CONTROL_LINE = 2048;

// Times beyond this (year 9999) are nonsense and would only make the backend fail later.
const MAX_TIME_SECONDS = 253_402_300_799;

/**
 * Parses one control line (without its trailing '\n'). Throws ProtocolError on anything
 * OpenSSH's sink would call a protocol error, including names that are not a single path component.
 */
export function parseControlLine(line: string): ControlRecord {
  if (line.length > MAX_CONTROL_LINE) throw new ProtocolError('control line too long');
  switch (line[0]) {
    case 'E':
      if (line.length !== 1) throw new ProtocolError('unexpected data after E');
      return { type: 'end-directory' };
    case 'T':
      return parseTimes(line);
    case 'C':
    case 'D':
      return parseEntry(line);
    default:
      throw new ProtocolError('expected control record');
  }
}

// T<mtime> <mtime usec> <atime> <atime usec>
function parseTimes(line: string): ControlRecord {
  const match = /^T(\d{1,15}) (\d{1,6}) (\d{1,15}) (\d{1,6})$/.exec(line);
  if (!match) throw new ProtocolError('bad time record');
  const mtime = Number(match[1]);
  const atime = Number(match[3]);
  if (mtime > MAX_TIME_SECONDS || atime > MAX_TIME_SECONDS) throw new ProtocolError('time out of range');
  return { type: 'times', mtime, atime };
}

// C<4 octal digits> <size> <name> and D<4 octal digits> 0 <name>
function parseEntry(line: string): ControlRecord {
  const modeText = line.slice(1, 5);
  if (!/^[0-7]{4}$/.test(modeText)) throw new ProtocolError('bad mode');
  if (line[5] !== ' ') throw new ProtocolError('mode not delimited');
  const sizeEnd = line.indexOf(' ', 6);
  if (sizeEnd < 0) throw new ProtocolError('size not delimited');
  const sizeText = line.slice(6, sizeEnd);
  // Digits only: no sign, no blanks, no exponent; and never past what a JS number counts exactly.
  if (!/^\d{1,16}$/.test(sizeText)) throw new ProtocolError('size not present');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new ProtocolError('size out of range');
  const name = line.slice(sizeEnd + 1);
  if (!isSafeEntryName(name)) throw new ProtocolError(`unexpected filename: ${printable(name)}`);
  const mode = Number.parseInt(modeText, 8);
  if (line[0] === 'D') return { type: 'directory', mode, name };
  return { type: 'file', mode, size, name };
}

/** A name the peer may create: one component, so it can never climb out of or skip past the target. */
export function isSafeEntryName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

export function formatTimes(mtime: number, atime: number): string {
  return `T${Math.max(0, Math.floor(mtime))} 0 ${Math.max(0, Math.floor(atime))} 0\n`;
}

/** Permission bits only: set-id and sticky bits are never passed on to the peer. */
export function formatFile(mode: number, size: number, name: string): string {
  return `C${octal4(mode)} ${size} ${name}\n`;
}

export function formatDirectory(mode: number, name: string): string {
  return `D${octal4(mode)} 0 ${name}\n`;
}

export const END_DIRECTORY = 'E\n';

function octal4(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

/** Control characters in peer-supplied text are replaced so they cannot break our own lines or a terminal. */
export function printable(text: string, maxLength = 1024): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > maxLength ? `${clean.slice(0, maxLength)}...` : clean;
}
