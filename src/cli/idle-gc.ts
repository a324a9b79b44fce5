// One full GC when a worker goes idle, so the garbage its old-generation floor let pile up is given back.
import { createRequire } from 'node:module';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/**
 * Workers start with an old-generation floor (`--initial-old-space-size`, src/cli/serve.ts): V8 runs no
 * mark-compact until the old generation reaches it, which keeps downloads from back-to-back full GCs but also
 * keeps start-up's garbage (~10 MB per worker) and that of every busy spell (up to the floor) resident while
 * idle. V8 would run such a GC on its own only once the floor is reached; its memory reducer, which compacts
 * the heap and shrinks the young generation when a process stops allocating, only starts after a mark-compact.
 * So once the process has used (almost) no CPU for a few seconds and its old generation has grown since the
 * last time, this runs the one full GC the floor deferred, and V8's memory reducer follows on its own schedule
 * (~8 s later, if the process is still idle). Nothing runs while the process is busy.
 */
export interface IdleGcPolicy {
  /** Consecutive idle checks before the first GC (start-up's garbage) and before the release of kept rings. */
  readonly idleChecks: number;
  /**
   * Consecutive idle checks before each later GC. Longer, because a full GC costs the next sessions: V8 throws
   * away the optimized code that embeds objects the GC found dead (the last sessions' own), ~400 functions per
   * worker, and the next session runs ~40 % more CPU while they are compiled again (docs/PERFORMANCE.md, stop 51).
   * Traffic with pauses of a few seconds between sessions should not pay that each time.
   */
  readonly laterIdleChecks: number;
  /** CPU time (µs, user+system) under which a check interval counts as idle. */
  readonly idleCpuMicros: number;
  /** Growth of the held bytes (`IdleGcProbe.heldBytes`) since the last GC (ours) worth collecting. */
  readonly minGrowthBytes: number;
}

/** What the policy reads and does, injected so it can be exercised without V8 or a clock. */
export interface IdleGcProbe {
  /** CPU time used by the process so far, µs. */
  cpuMicros(): number;
  /**
   * Bytes in use in the old generation (every heap space but the young generation's), live or garbage, plus
   * the memory outside the heap that JS objects hold (ArrayBuffers: a transfer's buffers, kept until their
   * wrappers, promoted to the old generation, are collected).
   */
  heldBytes(): number;
  /** A full, blocking GC (the C heap's free pages are given back a check later, with malloc_trim). */
  collect(): void;
  /** Gives back what the process keeps for reuse while busy (native/aead's rings); once per idle spell. */
  release?(): void;
}

/** Decides, one check at a time, when to collect. */
export class IdleGc {
  readonly #policy: IdleGcPolicy;
  readonly #probe: IdleGcProbe;
  #lastCpu: number;
  #idleChecks = 0;
  /** Held bytes after the last GC this ran (0 before the first: start-up's garbage counts). */
  #baseline = 0;
  /** `release` ran in this idle spell. */
  #released = false;
  /** A GC ran already: the next waits `laterIdleChecks`. */
  #collected = false;

  constructor(policy: IdleGcPolicy, probe: IdleGcProbe) {
    this.#policy = policy;
    this.#probe = probe;
    this.#lastCpu = probe.cpuMicros();
  }

  /** One check; returns the held bytes before and after when it ran a GC, undefined otherwise. */
  check(): { before: number; after: number } | undefined {
    const cpu = this.#probe.cpuMicros();
    const idle = cpu - this.#lastCpu < this.#policy.idleCpuMicros;
    this.#lastCpu = cpu;
    this.#idleChecks = idle ? this.#idleChecks + 1 : 0;
    if (!idle) this.#released = false;
    if (this.#idleChecks < this.#policy.idleChecks) return undefined;
    if (!this.#released) {
      this.#released = true;
      this.#probe.release?.();
    }
    if (this.#collected && this.#idleChecks < this.#policy.laterIdleChecks) return undefined;
    const before = this.#probe.heldBytes();
    if (before - this.#baseline < this.#policy.minGrowthBytes) return undefined;
    this.#probe.collect();
    this.#collected = true;
    const after = this.#probe.heldBytes();
    this.#baseline = after;
    this.#idleChecks = 0;
    // The GC's own CPU time is not activity.
    this.#lastCpu = this.#probe.cpuMicros();
    return { before, after };
  }
}

/**
 * One check a second; idle = under 1% of a core for 5 s (60 s before any GC but the first); worth it from 4 MB of
 * growth.
 */
const CHECK_MS = 1000;
export const IDLE_GC_POLICY: IdleGcPolicy = {
  idleChecks: 5,
  laterIdleChecks: 60,
  idleCpuMicros: 10_000,
  minGrowthBytes: 4 * 2 ** 20,
};

/**
 * Empties the buffers of sent SSH packets that ssh2 keeps for reuse (patches/ssh2+1.17.0.patch, `takePacket`), in a
 * process that loaded ssh2; one that did not (the primary) is not made to load it here.
 */
function trimSshPacketPool(): number {
  const require = createRequire(import.meta.url);
  const loaded = require.cache[require.resolve('ssh2/lib/protocol/crypto.js')]?.exports as
    | { trimPacketPool?: () => number }
    | undefined;
  return loaded?.trimPacketPool?.() ?? 0;
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

const heldBytes = () =>
  getHeapSpaceStatistics()
    .filter((space) => !space.space_name.startsWith('new_'))
    .reduce((total, space) => total + space.space_used_size, getHeapStatistics().external_memory);

/**
 * Starts the checks in this process when V8's `gc` is exposed (workers get `--expose-gc` with the floor,
 * src/cli/serve.ts); otherwise does nothing. `onCollect` hears each GC and `onRelease` each release of kept
 * rings and packet buffers that gave anything back (for debug log lines).
 */
export async function startIdleGc(
  onCollect: (freed: { before: number; after: number; ms: number }) => void,
  onRelease: (kept: { ringBytes: number; packetBytes: number }) => void = () => {},
): Promise<() => void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return () => {};
  // The buffers the GC frees go back to glibc, which keeps them (~45 MB per worker after a few large
  // transfers) unless trimmed. Loaded here: the primary, which imports this module, maps no native addon.
  const { confine } = await import('../vfs/local/confine.js');
  const { aeadWith } = await import('../util/aead-addon.js');
  const rings = aeadWith<{ ringPoolTrim(): number }>('ringPoolTrim');
  let ms = 0;
  let trimPending = false;
  const policy = new IdleGc(IDLE_GC_POLICY, {
    cpuMicros,
    heldBytes,
    collect: () => {
      const started = performance.now();
      gc();
      ms = performance.now() - started;
      trimPending = true;
    },
    release: () => {
      // The hashing and sealing threads' rings kept for the next upload, and ssh2's pool of sent packets' buffers:
      // megabytes that an idle worker need not hold.
      const ringBytes = rings?.ringPoolTrim() ?? 0;
      const packetBytes = trimSshPacketPool();
      if (ringBytes + packetBytes > 0) {
        trimPending = true;
        onRelease({ ringBytes, packetBytes });
      }
    },
  });
  const timer = setInterval(() => {
    // V8 frees dead ArrayBuffers' memory on a background thread after the GC: trim at the next check.
    if (trimPending) {
      trimPending = false;
      confine.mallocTrim?.();
    }
    const freed = policy.check();
    if (freed) onCollect({ ...freed, ms });
  }, CHECK_MS);
  // A check never keeps the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
