// The SSH algorithm policy of both ends, Ferry's server (ssh/) and its own client (transfers/: `ferry sftp`, partner
// jobs): 'modern' has no SHA-1, CBC, DSA or NIST ECDH; 'compat' adds ECDH and ECDSA host keys.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * The ciphers this ssh2 build can run. ssh2 does not export its capability lists; its constants module is the one
 * source of truth for them. Read on first use: loading it loads ssh2's crypto (~10 ms), which a command that
 * only imports this module's types and lists on its way to the store (`ferry users list`) never needs.
 */
let supportedCiphers: readonly string[] | undefined;
function supportedCipher(name: string): boolean {
  supportedCiphers ??= (require('ssh2/lib/protocol/constants.js') as { SUPPORTED_CIPHER: string[] })
    .SUPPORTED_CIPHER;
  return supportedCiphers.includes(name);
}

export type AlgorithmProfile = 'modern' | 'compat';

export interface AlgorithmPolicy {
  readonly kex: string[];
  readonly serverHostKey: string[];
  readonly cipher: string[];
  readonly hmac: string[];
  readonly compress: string[];
}

// The post-quantum hybrid first, as OpenSSH 10 orders it (from our ssh2 patch): recorded sessions stay safe from
// a future quantum computer, and OpenSSH 10.1+ clients stop warning about this server.
export const POST_QUANTUM_KEX: readonly string[] = ['mlkem768x25519-sha256'];

/** Whether a negotiated key exchange resists a future quantum computer (for the audit record and metrics). */
export function isPostQuantumKex(kex: string): boolean {
  return POST_QUANTUM_KEX.includes(kex);
}

/** Served only with groups to hand out (src/ssh/moduli.ts); clients that prefer it get a fresh group, not a fixed one. */
export const GROUP_EXCHANGE_KEX = 'diffie-hellman-group-exchange-sha256';

const MODERN_KEX = [
  ...POST_QUANTUM_KEX,
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  GROUP_EXCHANGE_KEX,
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512',
  'diffie-hellman-group14-sha256',
];
const COMPAT_KEX = ['ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521'];

const CIPHERS = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'chacha20-poly1305@openssh.com',
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
];

const MODERN_HOST_KEYS = ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'];

// Non-etm SHA-2 MACs stay because libssh2 (curl) and older clients need them.
const MACS = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
];

/** Every ECDSA curve a server may have chosen for its host key (Ferry's own is P-256). */
const ECDSA_HOST_KEYS = ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'];

/** What Ferry's server offers under a profile. */
export function algorithmPolicy(profile: AlgorithmProfile): AlgorithmPolicy {
  // chacha20-poly1305 needs ssh2's native binding; offer only what this build can run.
  const cipher = CIPHERS.filter(supportedCipher);
  return {
    kex: profile === 'compat' ? [...MODERN_KEX, ...COMPAT_KEX] : [...MODERN_KEX],
    serverHostKey:
      profile === 'compat' ? [...MODERN_HOST_KEYS, 'ecdsa-sha2-nistp256'] : [...MODERN_HOST_KEYS],
    cipher,
    hmac: [...MACS],
    // Delayed compression only: plain 'zlib' would inflate whatever an unauthenticated peer sends (zip bombs
    // and the compression-oracle class of bugs before login); zlib@openssh.com starts after authentication.
    compress: ['none', 'zlib@openssh.com'],
  };
}

/**
 * What Ferry's client offers under a profile: the server's lists, except that 'compat' accepts an ECDSA host key on
 * any of the three curves (a partner's server has whichever its administrator generated). A pinned key's type, when
 * the profile accepts it, is asked for first, so the server presents the key that was trusted.
 */
export function clientAlgorithmPolicy(
  profile: AlgorithmProfile,
  preferHostKeyType?: string | null,
): AlgorithmPolicy {
  const policy = algorithmPolicy(profile);
  const hostKeys = profile === 'compat' ? [...MODERN_HOST_KEYS, ...ECDSA_HOST_KEYS] : [...MODERN_HOST_KEYS];
  // An `ssh-rsa` key is the same key whatever the signature hash; only the SHA-2 signatures are accepted.
  const wanted =
    preferHostKeyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [preferHostKeyType ?? ''];
  const first = hostKeys.filter((k) => wanted.includes(k));
  return { ...policy, serverHostKey: [...first, ...hostKeys.filter((k) => !first.includes(k))] };
}

/** Whether a profile's client accepts a host key of this type (as pinned: `ssh-rsa` means the RSA key). */
export function clientAcceptsHostKeyType(profile: AlgorithmProfile, keyType: string): boolean {
  const accepted = clientAlgorithmPolicy(profile).serverHostKey;
  return keyType === 'ssh-rsa' ? accepted.includes('rsa-sha2-256') : accepted.includes(keyType);
}

/** The start-up line naming the key exchanges on offer, in preference order, and where ML-KEM comes from. */
export function keyExchangeLine(profile: AlgorithmProfile): string {
  // Our ssh2 patch's seam: node:crypto on Node >= 24.7, else @noble/post-quantum.
  const { backendName } = require('ssh2/lib/protocol/mlkem.js') as { backendName(): string };
  const names = algorithmPolicy(profile).kex.map((kex) =>
    isPostQuantumKex(kex) ? `${kex} (post-quantum, ML-KEM-768 from ${backendName()})` : kex,
  );
  return `key exchange: ${names.join(', ')}`;
}
