// Who may open and keep a connection: deny/allow lists, defender bans, per-process connection limits (slow-loris guard).
import type { Socket } from 'node:net';
import { DEFENDER_SCORES, type Defender, normalizeAddress } from '../auth/defender.js';
import type { Logger } from '../logger.js';
import type { DefenderHost } from '../store/types.js';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  /** Connections of one address that have not authenticated yet. */
  readonly maxUnauthenticatedPerAddress: number;
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}

/**
 * Tracks open and not-yet-authenticated connections; decides at accept time, before any SSH byte is read, and
 * closes every connection of an address the moment this process's defender bans it.
 */
export class Admission {
  readonly #open = new Map<string, number>();
  readonly #unauthenticated = new Map<string, number>();
  readonly #sockets = new Map<string, Set<Socket>>();
  readonly #stopListening: () => void;
  #total = 0;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly defender: Defender,
    private readonly log: Logger,
  ) {
    this.#stopListening = defender.whenBanned((host) => this.#closeBanned(host));
  }

  /** Stops closing connections on bans (the server is shutting down). */
  close(): void {
    this.#stopListening();
  }

  /** A ban is a firewall rule in spirit: the address's open connections, logged in or not, are cut too. */
  #closeBanned(host: DefenderHost): void {
    const sockets = this.#sockets.get(host.address);
    if (!sockets || sockets.size === 0) return;
    this.log.warn(
      { remoteAddress: host.address, connections: sockets.size },
      'address banned; closing its open connections',
    );
    for (const socket of [...sockets]) socket.destroy();
  }

  /**
   * Admits the socket or destroys it. An admitted socket counts until it closes, and as unauthenticated
   * until `authenticated()` is called for it.
   */
  async admit(socket: Socket): Promise<{ address: string; authenticated(): void } | undefined> {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    const refuse = (reason: string, penalize: boolean) => {
      this.log.info({ remoteAddress: address, reason }, 'connection refused');
      socket.destroy();
      if (penalize) {
        this.defender
          .penalize(address, DEFENDER_SCORES.limitHit, reason)
          .catch((err: unknown) => this.log.error({ err }, 'defender failed'));
      }
      return undefined;
    };
    if (this.#total >= this.limits.maxConnections) return refuse('maxConnections reached', false);
    const verdict = await this.defender.verdict(address);
    if (verdict !== 'allow')
      return refuse(verdict === 'deny' ? 'address deny-listed' : 'address banned', false);
    const limited = !(await this.defender.isAllowListed(address));
    if (socket.destroyed) return undefined;
    if (limited && (this.#open.get(address) ?? 0) >= this.limits.maxConnectionsPerAddress) {
      return refuse('maxConnectionsPerAddress reached', true);
    }
    if (limited && (this.#unauthenticated.get(address) ?? 0) >= this.limits.maxUnauthenticatedPerAddress) {
      return refuse('maxUnauthenticatedPerAddress reached', true);
    }
    this.#total++;
    bump(this.#open, address, 1);
    bump(this.#unauthenticated, address, 1);
    const sockets = this.#sockets.get(address) ?? new Set<Socket>();
    this.#sockets.set(address, sockets.add(socket));
    let pending = true;
    const authenticated = () => {
      if (!pending) return;
      pending = false;
      bump(this.#unauthenticated, address, -1);
    };
    socket.once('close', () => {
      authenticated();
      this.#total--;
      bump(this.#open, address, -1);
      sockets.delete(socket);
      if (sockets.size === 0 && this.#sockets.get(address) === sockets) this.#sockets.delete(address);
    });
    return { address, authenticated };
  }
}
