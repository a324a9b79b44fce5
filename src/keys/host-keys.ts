// Server host keys: generated on first start (ed25519, ecdsa-p256, rsa-3072), stored mode 0600, loaded each start.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ConfigError } from '../errors.js';
import { keyBits, keyTypeLabel, md5Fingerprint, sha256Fingerprint } from './ssh-keys.js';

const { utils } = ssh2;

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

interface HostKeySpec {
  readonly type: HostKeyType;
  readonly file: string;
  readonly options?: { bits: number };
}

const HOST_KEY_SPECS: readonly HostKeySpec[] = [
  { type: 'ed25519', file: 'ssh_host_ed25519_key' },
  { type: 'ecdsa', file: 'ssh_host_ecdsa_key', options: { bits: 256 } },
  { type: 'rsa', file: 'ssh_host_rsa_key', options: { bits: 3072 } },
];

export interface HostKey {
  readonly type: HostKeyType;
  /** SSH algorithm of the key: ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa. */
  readonly algorithm: string;
  readonly path: string;
  /** OpenSSH-format private key, as ssh2's Server takes it. */
  readonly privateKey: Buffer;
  readonly publicBlob: Buffer;
  readonly bits: number;
  readonly sha256: string;
  readonly md5: string;
  /** True when this start generated the key. */
  readonly generated: boolean;
}

function loadHostKey(spec: HostKeySpec, path: string, generated: boolean): HostKey {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      `host key ${path} is readable by group or others (mode ${mode.toString(8)}); run chmod 600 ${path}`,
    );
  }
  const privateKey = readFileSync(path);
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new ConfigError(
      `cannot parse host key ${path}: ${parsed instanceof Error ? parsed.message : 'several keys'}`,
    );
  }
  const publicBlob = parsed.getPublicSSH();
  return {
    type: spec.type,
    algorithm: parsed.type,
    path,
    privateKey,
    publicBlob,
    bits: keyBits(parsed.type, publicBlob),
    sha256: sha256Fingerprint(publicBlob),
    md5: md5Fingerprint(publicBlob),
    generated,
  };
}

/** Loads the host keys in `dir`, generating any that are missing. */
export function ensureHostKeys(dir: string): HostKey[] {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return HOST_KEY_SPECS.map((spec) => {
    const path = join(dir, spec.file);
    let generated = false;
    if (!existsSync(path)) {
      const pair = spec.options
        ? utils.generateKeyPairSync(spec.type as 'rsa', spec.options)
        : utils.generateKeyPairSync(spec.type as 'ed25519');
      writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
      writeFileSync(`${path}.pub`, `${pair.public.trim()} ferry-host-key\n`, { mode: 0o644 });
      generated = true;
    }
    return loadHostKey(spec, path, generated);
  });
}

/** `256 SHA256:... (ED25519)`, the shape of `ssh-keygen -lf` output. */
export function describeHostKey(key: HostKey): string {
  return `${key.bits} ${key.sha256} (${keyTypeLabel(key.algorithm)})`;
}
