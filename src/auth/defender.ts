// The built-in defender (fail2ban-like): scores misbehaving addresses, bans them for growing times; bans live in the store.
import type { Logger } from '../logger.js';
import type { DefenderHost, DefenderListRepository, DefenderRepository } from '../store/types.js';
import { DefenderLists, matchesCidrs, normalizeAddress } from './defender-lists.js';

export { cidrBlockList, matchesCidrs, normalizeAddress, normalizeCidr } from './defender-lists.js';

export interface DefenderPolicy {
  readonly enabled: boolean;
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly banSeconds: number;
  readonly maxBanSeconds: number;
  /** The config's lists: a base the entries stored at run time (`lists`) add to. */
  readonly allowList: readonly string[];
  readonly denyList: readonly string[];
}

/** No stored entries (a defender without a store of lists, in unit tests). */
const NO_STORED_ENTRIES: DefenderListRepository = {
  list: async () => [],
  add: async () => false,
  remove: async () => false,
};

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

export class Defender {
  readonly #repo: DefenderRepository;
  readonly #policy: DefenderPolicy;
  readonly #log: Logger;
  /** The allow and deny lists: the config's plus those stored at run time, read fresh by every check. */
  readonly lists: DefenderLists;
  readonly #onBan: ((host: DefenderHost, reason: string) => void) | undefined;
  readonly #banListeners = new Set<(host: DefenderHost) => void>();

  constructor(
    repo: DefenderRepository,
    policy: DefenderPolicy,
    log: Logger,
    onBan?: (host: DefenderHost, reason: string) => void,
    lists: DefenderListRepository = NO_STORED_ENTRIES,
  ) {
    this.#repo = repo;
    this.#policy = policy;
    this.#log = log;
    this.lists = new DefenderLists({ allow: policy.allowList, deny: policy.denyList }, lists);
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

  /** On the allow list (config or stored): never banned, scored or limited per address. */
  async isAllowListed(address: string): Promise<boolean> {
    return matchesCidrs((await this.lists.current()).allow, address);
  }

  /**
   * Decided before any authentication (the SSH handshake, an FTPS login, an API key): deny-listed and banned
   * addresses are dropped at once. The deny list wins over the allow list.
   */
  async verdict(address: string, now = new Date()): Promise<Verdict> {
    const lists = await this.lists.current();
    if (matchesCidrs(lists.deny, address)) return 'deny';
    if (matchesCidrs(lists.allow, address) || !this.#policy.enabled) return 'allow';
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
    if (!this.#policy.enabled || (await this.isAllowListed(address))) return undefined;
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
