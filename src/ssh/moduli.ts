// Groups for diffie-hellman-group-exchange-sha256 (RFC 4419, sizes per RFC 8270): read from an OpenSSH moduli file
// (`ssh-keygen -M generate` / `-M screen` output; Debian ships /etc/ssh/moduli), chosen the way OpenSSH's sshd
// chooses; without a usable file, the RFC 3526 groups of the same sizes (as sshd falls back to fixed groups).
import { createDiffieHellmanGroup, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface DhGroup {
  readonly bits: number;
  readonly prime: Buffer;
  readonly generator: Buffer;
}

/** RFC 8270: nothing under 2048 bits; 8192 is the largest a client may ask for. */
export const GEX_MIN_BITS = 2048;
export const GEX_MAX_BITS = 8192;
/**
 * The largest group handed out unless the operator raises `maxGroupExchangeBits`: an 8192-bit exchange costs the
 * server about a second of synchronous CPU before any login (OpenSSH asks for 8192 with chacha20), 4096 bits
 * (about 150-bit strength) a tenth of that. The cap is on the group, not only on the client's preference: a client
 * whose minimum is above it gets no group, so no one can make an unauthenticated connection cost a second.
 */
export const GEX_DEFAULT_MAX_BITS = 4096;

// moduli(5) fields: time type tests tries size generator modulus. Type 2 is a safe prime; tests is a bit set,
// 0x04 = Miller-Rabin passed (ssh-keygen -M screen sets it); size is the bit length minus one.
const MODULI_TYPE_SAFE = 2;
const MODULI_TESTS_MILLER_RABIN = 0x04;

/** Parses a moduli file's text; lines that are not screened safe primes in RFC 8270's range are skipped. */
export function parseModuli(text: string): DhGroup[] {
  const groups: DhGroup[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length !== 7 || fields[0]!.startsWith('#')) continue;
    const [, type, tests, tries, size, generator, modulus] = fields as [string, ...string[]];
    if (Number(type) !== MODULI_TYPE_SAFE) continue;
    if ((Number(tests) & MODULI_TESTS_MILLER_RABIN) === 0 || !(Number(tries) > 0)) continue;
    if (!/^[0-9A-Fa-f]+$/.test(modulus!) || !/^\d+$/.test(generator!)) continue;
    const bits = Number(size) + 1;
    const prime = Buffer.from(modulus!.length % 2 ? `0${modulus}` : modulus!, 'hex');
    // The declared size must be the modulus's real size (a file edited by hand could say otherwise).
    if (bits < GEX_MIN_BITS || bits > GEX_MAX_BITS || prime.length * 8 !== bits || (prime[0]! & 0x80) === 0)
      continue;
    const g = Number(generator);
    if (g < 2 || g > 255) continue;
    groups.push({ bits, prime, generator: Buffer.from([g]) });
  }
  return groups;
}

/** RFC 3526's MODP groups 14-18 (2048-8192 bits), generator 2: the fallback without a moduli file. */
export function fixedGroups(): DhGroup[] {
  return (['modp14', 'modp15', 'modp16', 'modp17', 'modp18'] as const).map((name) => {
    const prime = createDiffieHellmanGroup(name).getPrime();
    return { bits: prime.length * 8, prime, generator: Buffer.from([2]) };
  });
}

/**
 * OpenSSH's choice (dh.c choose_dh): among groups of min..max bits, the smallest size at least `wanted`, else the
 * largest below it; one of that size at random.
 */
export function chooseGroup(
  groups: readonly DhGroup[],
  min: number,
  wanted: number,
  max: number,
): DhGroup | undefined {
  const fitting = groups.filter((g) => g.bits >= min && g.bits <= max);
  if (fitting.length === 0) return undefined;
  const atLeast = fitting.filter((g) => g.bits >= wanted);
  const size =
    atLeast.length > 0 ? Math.min(...atLeast.map((g) => g.bits)) : Math.max(...fitting.map((g) => g.bits));
  const candidates = fitting.filter((g) => g.bits === size);
  return candidates[randomInt(candidates.length)];
}

/** The chooser the ssh2 patch calls (min..max already clamped to 2048..8192): no group above `maxBits`. */
export function groupChooser(
  groups: readonly DhGroup[],
  maxBits: number,
): (min: number, wanted: number, max: number) => DhGroup | undefined {
  return (min, wanted, max) => chooseGroup(groups, min, Math.min(wanted, maxBits), Math.min(max, maxBits));
}

export interface ModuliSource {
  readonly groups: readonly DhGroup[];
  /** Where the groups came from, for the start-up log. */
  readonly origin: string;
}

/** Reads `path`; an absent, unreadable or empty file gives the fixed groups, and says so. */
export function loadModuli(path: string): ModuliSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { groups: fixedGroups(), origin: `RFC 3526 groups (${path} not readable)` };
  }
  const groups = parseModuli(text);
  if (groups.length === 0)
    return { groups: fixedGroups(), origin: `RFC 3526 groups (no usable group in ${path})` };
  return { groups, origin: `${groups.length} groups from ${path}` };
}
