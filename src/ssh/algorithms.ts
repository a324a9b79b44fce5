// The SSH algorithm policy: 'modern' has no SHA-1, CBC, DSA or NIST ECDH; 'compat' adds ECDH and ECDSA host keys.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// ssh2 does not export its capability lists; its constants module is the one source of truth for them.
const { SUPPORTED_CIPHER } = require('ssh2/lib/protocol/constants.js') as { SUPPORTED_CIPHER: string[] };

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

// Non-etm SHA-2 MACs stay because libssh2 (curl) and older clients need them.
const MACS = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
];

export function algorithmPolicy(profile: AlgorithmProfile): AlgorithmPolicy {
  // chacha20-poly1305 needs ssh2's native binding; offer only what this build can run.
  const cipher = CIPHERS.filter((c) => SUPPORTED_CIPHER.includes(c));
  return {
    kex: profile === 'compat' ? [...MODERN_KEX, ...COMPAT_KEX] : [...MODERN_KEX],
    serverHostKey:
      profile === 'compat'
        ? ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256']
        : ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
    cipher,
    hmac: [...MACS],
    // Delayed compression only: plain 'zlib' would inflate whatever an unauthenticated peer sends (zip bombs
    // and the compression-oracle class of bugs before login); zlib@openssh.com starts after authentication.
    compress: ['none', 'zlib@openssh.com'],
  };
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
