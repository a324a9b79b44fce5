// The defender's effective allow and deny lists: the config's entries (a fixed base) plus those stored at run time.
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import { isCidr } from '../config/schema.js';
import type { DefenderListName, DefenderListRepository } from '../store/types.js';

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

/**
 * One spelling per entry, so the same network cannot be listed twice as `2001:DB8::/32` and `2001:db8:0::/32`:
 * IPv6 compressed and lower case, an IPv4-mapped address as IPv4, a prefix without leading zeros, and a
 * single-address prefix (/32, /128) dropped. Undefined when the text is no address or CIDR.
 */
export function normalizeCidr(text: string): string | undefined {
  const trimmed = text.trim();
  if (!isCidr(trimmed)) return undefined;
  const [raw = '', prefixText] = trimmed.split('/');
  let address = normalizeAddress(raw);
  const family = isIP(address);
  if (family === 6) address = new URL(`http://[${address}]`).hostname.slice(1, -1);
  let prefix = prefixText === undefined ? undefined : Number(prefixText);
  // A mapped IPv4 address with an IPv6 prefix (::ffff:10.0.0.0/104) becomes the IPv4 prefix it means.
  if (prefix !== undefined && family === 4 && isIPv6(raw)) {
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  if (prefix === (family === 4 ? 32 : 128)) prefix = undefined;
  return prefix === undefined ? address : `${address}/${prefix}`;
}

export interface ListMatch {
  readonly allow: BlockList;
  readonly deny: BlockList;
}

/** How long stored entries are reused when changes are announced (a lost announcement costs at most this). */
export const ANNOUNCED_MAX_AGE_MS = 5000;

/**
 * Reads the stored entries for every check, so a change made by any process (a CLI, another worker, another
 * node) applies to the next connection. Where the store announces changes (PostgreSQL's NOTIFY, wired in
 * server.ts through `changed()`), one read is shared until the next announcement (or a few seconds).
 */
export class DefenderLists {
  readonly #base: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly #repo: DefenderListRepository;
  readonly #now: () => number;
  #announced = false;
  #maxAgeMs = ANNOUNCED_MAX_AGE_MS;
  #cached: { promise: Promise<ListMatch>; at: number } | undefined;

  constructor(
    base: { readonly allow: readonly string[]; readonly deny: readonly string[] },
    repo: DefenderListRepository,
    now: () => number = Date.now,
  ) {
    this.#base = base;
    this.#repo = repo;
    this.#now = now;
  }

  /** The config's entries of a list: a base that only a config change removes. */
  configured(list: DefenderListName): readonly string[] {
    return this.#base[list];
  }

  /** From now on a read is shared until `changed()` is called (or for `maxAgeMs` at most). */
  announcedChanges(maxAgeMs = ANNOUNCED_MAX_AGE_MS): void {
    this.#announced = true;
    this.#maxAgeMs = maxAgeMs;
    this.#cached = undefined;
  }

  /** A list changed somewhere: the next check reads the store again. */
  changed(): void {
    this.#cached = undefined;
  }

  current(): Promise<ListMatch> {
    if (!this.#announced) return this.#load();
    const cached = this.#cached;
    if (cached && this.#now() - cached.at < this.#maxAgeMs) return cached.promise;
    const next = { promise: this.#load(), at: this.#now() };
    this.#cached = next;
    // A failed read is not shared: the next check tries the store again.
    next.promise.catch(() => {
      if (this.#cached === next) this.#cached = undefined;
    });
    return next.promise;
  }

  async #load(): Promise<ListMatch> {
    const stored = await this.#repo.list();
    const of = (list: DefenderListName) => [
      ...this.#base[list],
      ...stored.filter((e) => e.list === list).map((e) => e.cidr),
    ];
    return { allow: cidrBlockList(of('allow')), deny: cidrBlockList(of('deny')) };
  }
}
