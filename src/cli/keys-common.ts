// What the `ferry keys` subcommands share: option parsing, reading private key files, printing or writing keys.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { PrivateKeyFormat, SshKeyType } from '../keys/private-keys.js';
import { CliError, type DataDirOption, STORE_OPTION_HELP } from './common.js';

const SSH_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
const FORMATS = ['openssh', 'pem', 'ppk'] as const;

export function sshType(value: string): SshKeyType {
  if (!(SSH_TYPES as readonly string[]).includes(value)) {
    throw new CliError(`unsupported key type '${value}' (use ${SSH_TYPES.join(', ')})`, 2);
  }
  return value as SshKeyType;
}

export function keyFormat(value: string): PrivateKeyFormat {
  if (!(FORMATS as readonly string[]).includes(value))
    throw new CliError(`unknown format '${value}' (use ${FORMATS.join(', ')})`, 2);
  return value as PrivateKeyFormat;
}

export function bitsOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError(`--bits must be a number, got '${value}'`, 2);
  return Number(value);
}

/** OpenSSL reads Ed25519 PKCS#8 PEM, but ssh-keygen (9.x) does not: say so rather than let a user find out later. */
export function warnPemEd25519(format: PrivateKeyFormat, algorithm: string): void {
  if (format === 'pem' && algorithm === 'ssh-ed25519') {
    process.stderr.write(
      'note: OpenSSH cannot read Ed25519 keys in PEM (PKCS#8); use --format openssh for ssh/sftp\n',
    );
  }
}

/** Reads a file that holds (or may hold) a private key; refuses one that others can read, as ssh does. */
export function readPrivateKeyFile(file: string): Buffer {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new CliError(
      `refusing to read ${file}: it is readable by group or others (mode ${mode.toString(8).padStart(3, '0')}); run chmod 600 ${file}`,
    );
  }
  return readFileSync(file);
}

/** Prints, or writes to `output` (mode 0600 for anything private). */
export function emit(text: string, output: string | undefined, isPrivate: boolean): void {
  const body = text.endsWith('\n') ? text : `${text}\n`;
  if (!output) {
    process.stdout.write(body);
    return;
  }
  writeFileSync(output, body, { mode: isPrivate ? 0o600 : 0o644, flag: 'wx' });
  process.stderr.write(`wrote ${output}\n`);
}

export const opts = (cmd: Command): DataDirOption => cmd.optsWithGlobals() as DataDirOption;
export const dataDirOption = [
  '--data-dir <dir>',
  'data directory (default ./data, env FERRY_DATA_DIR)',
] as const;
export const storeOption = ['--store <url>', STORE_OPTION_HELP] as const;
