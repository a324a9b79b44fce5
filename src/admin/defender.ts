// The defender's bans: list them, lift one (an admin event).
import { isIP } from 'node:net';
import { z } from 'zod';
import { normalizeAddress } from '../auth/defender.js';
import { FerryError } from '../errors.js';
import type { DefenderHost } from '../store/types.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

export const ipAddressSchema = z.string().refine((a) => isIP(a) !== 0, { message: 'is not an IP address' });

export class DefenderAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  /** Scored and banned addresses; only those banned at `now` with bannedOnly. */
  async list(options: { bannedOnly?: boolean; now?: Date } = {}): Promise<DefenderHost[]> {
    const now = options.now ?? new Date();
    return (await this.#deps.store.defender.list()).filter(
      (h) => !options.bannedOnly || (h.bannedUntil !== null && h.bannedUntil > now),
    );
  }

  /** Lifts a ban and forgets the score; returns the address as stored (IPv4-mapped IPv6 unwrapped). */
  async unban(actor: Actor, address: string): Promise<string> {
    checkActor(actor);
    const key = normalizeAddress(parseInput(ipAddressSchema, address));
    if (!(await this.#deps.store.defender.unban(key)))
      throw new FerryError('ERR_NOT_FOUND', `${key} is not in the defender's list`);
    await this.#record.record(actor, 'defender.unban', key);
    return key;
  }
}
