// The built-in defender (fail2ban-like): scores misbehaving addresses, bans them for growing times; bans live in the store.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../logger.js';
import type { DefenderHost, DefenderRepository } from '../store/types.js';

export interface DefenderPolicy {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly banSeconds: number;
  readonly maxBanSeconds: number;
  readonly allowList: readonly string[];
  readonly denyList: readonly string[];
}

/** Points per kind of misbehaviour: a failed login is the unit. */
export const DEFENDER_SCORES = {
  loginFailed: 1,
  limitHit: 1,
  protocolError: 2,
  tooManyAuthTries: 2,
  /**
   * A key query (publickey without a signature) for a key the user may not use: cheap for a client and harmless
   * once, but many are key enumeration. Four count as one failed login; 0.25 adds up exactly in a float.
   */
  keyQueryRefused: 0.25,
} as const;

export type Verdict = 'allow' | 'deny' | 'banned';

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack socket) is 192.0.2.1 for every rule. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export function cidrBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix] = cidr.split('/');
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

export function matchesCidrs(list: BlockList, address: string): boolean {
  const normalized = normalizeAddress(address);
  if (isIPv4(normalized)) return list.check(normalized, 'ipv4');
  if (isIPv6(normalized)) return list.check(normalized, 'ipv6');
  return false;
}

export class Defender {
  readonly #repo: DefenderRepository;
  readonly #policy: DefenderPolicy;
  readonly #log: Logger;
  readonly #allow: BlockList;
  readonly #deny: BlockList;
  readonly #onBan: ((host: DefenderHost, reason: string) => void) | undefined;
  readonly #banListeners = new Set<(host: DefenderHost) => void>();

  constructor(
    repo: DefenderRepository,
    policy: DefenderPolicy,
    log: Logger,
    onBan?: (host: DefenderHost, reason: string) => void,
  ) {
    this.#repo = repo;
    this.#policy = policy;
    this.#log = log;
    this.#allow = cidrBlockList(policy.allowList);
    this.#deny = cidrBlockList(policy.denyList);
    this.#onBan = onBan;
  }

  /**
   * Calls `listener` with each ban this process decides (other processes' bans are only seen in the store).
   * Returns the function that stops listening.
   */
  whenBanned(listener: (host: DefenderHost) => void): () => void {
    this.#banListeners.add(listener);
    return () => this.#banListeners.delete(listener);
  }

  isAllowListed(address: string): boolean {
    return matchesCidrs(this.#allow, address);
  }

  /** Decided before the SSH handshake: deny-listed and banned addresses are dropped at once. */
  async verdict(address: string, now = new Date()): Promise<Verdict> {
    if (matchesCidrs(this.#deny, address)) return 'deny';
    if (this.isAllowListed(address) || !this.#policy.enabled) return 'allow';
    const host = await this.#repo.get(normalizeAddress(address));
    return host?.bannedUntil && host.bannedUntil > now ? 'banned' : 'allow';
  }

  /** Adds to the address's score; at the threshold the address is banned (twice as long each time). */
  async penalize(
    address: string,
    points: number,
    reason: string,
    now = new Date(),
  ): Promise<DefenderHost | undefined> {
    if (!this.#policy.enabled || this.isAllowListed(address)) return undefined;
    const key = normalizeAddress(address);
    const host = await this.#repo.score(key, points, reason, now, this.#policy.windowSeconds);
    if (host.score < this.#policy.threshold || (host.bannedUntil && host.bannedUntil > now)) return host;
    const seconds = Math.min(
      this.#policy.banSeconds * 2 ** host.banCount,
      this.#policy.maxBanSeconds || Number.MAX_SAFE_INTEGER,
    );
    const until = new Date(now.getTime() + seconds * 1000);
    if (await this.#repo.ban(key, until, host.banCount)) {
      const banned = (await this.#repo.get(key))!;
      this.#log.warn(
        { remoteAddress: key, until: until.toISOString(), banCount: banned.banCount, reason },
        'address banned',
      );
      this.#onBan?.(banned, reason);
      for (const listener of this.#banListeners) listener(banned);
      return banned;
    }
    return host;
  }
}
