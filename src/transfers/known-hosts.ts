// OpenSSH known_hosts files: plain and hashed (|1|salt|hash) host patterns, wildcards, negation, @revoked.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface KnownHostEntry {
  readonly marker: '' | '@revoked' | '@cert-authority';
  readonly patterns: string;
  readonly keyType: string;
  readonly blob: Buffer;
  readonly line: number;
}

export type HostKeyVerdict =
  | { readonly status: 'known'; readonly entry: KnownHostEntry }
  | { readonly status: 'changed'; readonly entry: KnownHostEntry }
  | { readonly status: 'revoked'; readonly entry: KnownHostEntry }
  | { readonly status: 'unknown' };

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as typeof marker;
    const [patterns, keyType, base64] = fields;
    if (!patterns || !keyType || !base64) continue;
    const blob = Buffer.from(base64, 'base64');
    if (blob.length === 0) continue;
    entries.push({ marker, patterns, keyType, blob, line: index + 1 });
  }
  return entries;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes it. */
function hashedMatch(pattern: string, name: string): boolean {
  const [, kind, salt, hash] = pattern.split('|');
  if (kind !== '1' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** OpenSSH's rule: any negated pattern that matches excludes the host; otherwise one positive match is needed. */
export function hostMatches(patterns: string, host: string, port: number): boolean {
  const name = hostKeyName(host, port);
  if (patterns.startsWith('|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    if (!wildcardMatch(pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Looks the presented key up: revoked, known, changed (same key type, other key) or unknown. */
export function checkHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  keyType: string,
  blob: Buffer,
): HostKeyVerdict {
  const mine = entries.filter((e) => e.marker !== '@cert-authority' && hostMatches(e.patterns, host, port));
  const revoked = entries.find((e) => e.marker === '@revoked' && e.blob.equals(blob));
  if (revoked) return { status: 'revoked', entry: revoked };
  const known = mine.find((e) => e.marker === '' && e.blob.equals(blob));
  if (known) return { status: 'known', entry: known };
  const changed = mine.find((e) => e.marker === '' && e.keyType === keyType);
  if (changed) return { status: 'changed', entry: changed };
  return { status: 'unknown' };
}

export async function readKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Appends a plain entry (`[host]:port keytype base64`), creating the file (and ~/.ssh) private if needed. */
export async function addKnownHost(file: string, host: string, port: number, keyType: string, blob: Buffer) {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const existing = await readFile(file, 'utf8').catch(() => '');
  const prefix = existing === '' || existing.endsWith('\n') ? '' : '\n';
  await appendFile(file, `${prefix}${hostKeyName(host, port)} ${keyType} ${blob.toString('base64')}\n`, {
    mode: 0o600,
  });
}
