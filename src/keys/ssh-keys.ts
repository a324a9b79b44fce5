// SSH public keys: authorized_keys parsing, wire-blob inspection and fingerprints as ssh-keygen prints them.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type Ssh2 from 'ssh2';
import { InvalidArgumentError } from '../errors.js';

/** ssh2 is required on the first key parsed: commands that parse none (`ferry users list`) start faster without it. */
let ssh2Utils: (typeof Ssh2)['utils'] | undefined;
function sshUtils(): (typeof Ssh2)['utils'] {
  ssh2Utils ??= (createRequire(import.meta.url)('ssh2') as typeof Ssh2).utils;
  return ssh2Utils;
}

/** Key types accepted for user authentication: no DSA, no SHA-1-only types. */
export const ACCEPTED_USER_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

const MIN_RSA_BITS = 2048;

export interface ParsedPublicKey {
  readonly algorithm: string;
  readonly blob: Buffer;
  readonly comment: string;
  readonly options: string;
  readonly bits: number;
  readonly fingerprint: string;
}

/** `SHA256:<unpadded base64>` of the public key blob, exactly as `ssh-keygen -lf` shows it. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** `MD5:aa:bb:...` legacy fingerprint (`ssh-keygen -E md5 -lf`). */
export function md5Fingerprint(blob: Buffer): string {
  const hex = createHash('md5').update(blob).digest('hex');
  return `MD5:${hex.match(/../g)!.join(':')}`;
}

/** Reads the SSH wire strings of a public key blob (type, then fields), bounds-checked. */
function blobFields(blob: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let pos = 0;
  while (pos < blob.length) {
    if (pos + 4 > blob.length) throw new InvalidArgumentError('truncated public key blob');
    const len = blob.readUInt32BE(pos);
    pos += 4;
    if (pos + len > blob.length) throw new InvalidArgumentError('truncated public key blob');
    fields.push(blob.subarray(pos, pos + len));
    pos += len;
  }
  return fields;
}

/** Key size in bits as ssh-keygen reports it. */
export function keyBits(algorithm: string, blob: Buffer): number {
  const fields = blobFields(blob);
  if (algorithm === 'ssh-ed25519') return 256;
  if (algorithm.startsWith('ecdsa-sha2-nistp')) return Number(algorithm.slice('ecdsa-sha2-nistp'.length));
  if (algorithm === 'ssh-rsa') {
    const n = fields[2];
    if (!n) throw new InvalidArgumentError('RSA key without modulus');
    let i = 0;
    while (i < n.length && n[i] === 0) i++;
    if (i === n.length) return 0;
    return (n.length - i - 1) * 8 + (32 - Math.clz32(n[i]!));
  }
  return 0;
}

/** Splits an authorized_keys line into options, type, base64 and comment; quoted option values may hold spaces. */
function splitAuthorizedKeysLine(line: string): { options: string; rest: string } {
  const trimmed = line.trim();
  const firstSpace = trimmed.search(/\s/);
  const first = firstSpace === -1 ? trimmed : trimmed.slice(0, firstSpace);
  if (
    (ACCEPTED_USER_KEY_TYPES as readonly string[]).includes(first) ||
    first.startsWith('ssh-') ||
    first.startsWith('ecdsa-') ||
    first.startsWith('sk-')
  ) {
    return { options: '', rest: trimmed };
  }
  let inQuotes = false;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed[i];
    if (c === '\\' && inQuotes) {
      i++;
      continue;
    }
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (c === ' ' || c === '\t')) {
      return { options: trimmed.slice(0, i), rest: trimmed.slice(i).trim() };
    }
  }
  throw new InvalidArgumentError('authorized_keys line has options but no key');
}

/** Parses one authorized_keys / .pub line. Options are kept as text; unsupported or weak keys are refused. */
export function parseAuthorizedKey(line: string): ParsedPublicKey {
  if (line.includes('\0')) throw new InvalidArgumentError('public key contains a NUL byte');
  const { options, rest } = splitAuthorizedKeysLine(line);
  const [algorithm = '', b64 = '', ...commentParts] = rest.split(/\s+/);
  if (!(ACCEPTED_USER_KEY_TYPES as readonly string[]).includes(algorithm)) {
    throw new InvalidArgumentError(
      `unsupported public key type '${algorithm.slice(0, 40)}' (accepted: ${ACCEPTED_USER_KEY_TYPES.join(', ')})`,
    );
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new InvalidArgumentError('public key data is not base64');
  const parsed = sshUtils().parseKey(`${algorithm} ${b64}`);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new InvalidArgumentError(
      `invalid public key: ${parsed instanceof Error ? parsed.message : 'several keys'}`,
    );
  }
  if (parsed.type !== algorithm) throw new InvalidArgumentError('public key type does not match its data');
  const blob = parsed.getPublicSSH();
  const bits = keyBits(algorithm, blob);
  if (algorithm === 'ssh-rsa' && bits < MIN_RSA_BITS) {
    throw new InvalidArgumentError(`RSA key of ${bits} bits is too weak (minimum ${MIN_RSA_BITS})`);
  }
  return {
    algorithm,
    blob,
    comment: commentParts.join(' '),
    options,
    bits,
    fingerprint: sha256Fingerprint(blob),
  };
}

/** Parses every key line of an authorized_keys file, skipping blanks and comments. */
export function parseAuthorizedKeys(text: string): ParsedPublicKey[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(parseAuthorizedKey);
}

/** The name ssh-keygen prints in parentheses after a fingerprint. */
export function keyTypeLabel(algorithm: string): string {
  if (algorithm === 'ssh-ed25519') return 'ED25519';
  if (algorithm.startsWith('ecdsa-')) return 'ECDSA';
  if (algorithm === 'ssh-rsa') return 'RSA';
  return algorithm.toUpperCase();
}
