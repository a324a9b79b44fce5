// Which cipher encrypted storage seals new files with: the setting, or for 'auto' what this CPU does fast.
import { readFileSync } from 'node:fs';
import type { SegmentCipherName } from './segment-cipher.js';

/*
 * Why a choice: AES-256-GCM is the faster of the two where the CPU has AES and carry-less multiply instructions
 * (x86 AES-NI + PCLMULQDQ, ARMv8 AES + PMULL), ~4 GB/s a core; without them OpenSSL falls back to constant-time
 * table-free AES at a small fraction of that, while ChaCha20-Poly1305 needs nothing but ordinary vector units
 * (RFC 8439 was written for such CPUs). Only new files follow the choice: each container names its cipher, so a
 * store moved to another machine reads on.
 */

export type CipherSetting = 'auto' | SegmentCipherName;

export interface CipherChoice {
  readonly cipher: SegmentCipherName;
  /** Why, for the start-up log line. */
  readonly reason: string;
}

/**
 * Whether the CPU described by `cpuinfo` (Linux's /proc/cpuinfo) has the AES and carry-less multiply
 * instructions GCM is fast with; undefined when the text says neither way (another architecture or OS).
 */
export function hasAesInstructions(cpuinfo: string): boolean | undefined {
  // x86 lists "flags", ARM "Features"; every core lists the same, so the first line is enough.
  const line = /^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo);
  if (!line) return undefined;
  const words = new Set(line[1]!.trim().split(/\s+/));
  // Every x86-64 CPU has SSE2, every ARMv8 one Advanced SIMD ("asimd"; "neon" or "vfp" in 32-bit mode, as on a
  // Raspberry Pi with a 32-bit OS).
  if (words.has('sse2')) return words.has('aes') && words.has('pclmulqdq');
  if (words.has('asimd') || words.has('neon') || words.has('vfp'))
    return words.has('aes') && words.has('pmull');
  return undefined;
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'latin1');
  } catch {
    return '';
  }
}

/** The cipher for `setting`; for 'auto' AES-256-GCM unless the CPU is known to lack AES instructions. */
export function chooseCipher(setting: CipherSetting, cpuinfo: () => string = readCpuinfo): CipherChoice {
  if (setting !== 'auto') return { cipher: setting, reason: 'configured' };
  const aes = hasAesInstructions(cpuinfo());
  if (aes === false) {
    return { cipher: 'chacha20-poly1305', reason: 'auto: this CPU has no AES instructions' };
  }
  return {
    cipher: 'aes-256-gcm',
    reason: aes ? 'auto: this CPU has AES instructions' : 'auto: AES instructions not detectable here',
  };
}
