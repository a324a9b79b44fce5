// The defender's bans (list them, lift one) and its allow and deny lists (list, add, remove): one admin event per change.
import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrBlockList, matchesCidrs, normalizeAddress, normalizeCidr } from '../auth/defender.js';
import { FerryError, InvalidArgumentError, NotFoundError, PermissionDeniedError } from '../errors.js';
import type { DefenderHost, DefenderListName } from '../store/types.js';
import { DEFENDER_LISTS } from '../store/types.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

export const ipAddressSchema = z.string().refine((a) => isIP(a) !== 0, { message: 'is not an IP address' });

/** An address or CIDR in its one spelling (normalizeCidr). */
export const cidrSchema = z
  .string()
  .max(100)
  .transform((text, ctx) => {
    const cidr = normalizeCidr(text);
    if (cidr === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be an address or CIDR such as 192.0.2.7 or 10.0.0.0/8' });
      return z.NEVER;
    }
    return cidr;
  });

export const defenderListEntrySchema = z
  .object({
    list: z.enum(DEFENDER_LISTS),
    cidr: cidrSchema,
    note: z.string().max(200).default(''),
  })
  .strict();

/** An entry of a list as every front end shows it; `source: 'config'` entries cannot be removed at run time. */
export interface DefenderListView {
  readonly list: DefenderListName;
  readonly cidr: string;
  readonly source: 'config' | 'store';
  readonly note: string;
  readonly createdBy: string | null;
  readonly created: string | null;
}

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

  /** The entries of one list: the config's first (in config order), then the stored ones by CIDR. */
  async entries(list: DefenderListName): Promise<DefenderListView[]> {
    const configured = this.#configured(list).map(
      (cidr): DefenderListView => ({
        list,
        cidr,
        source: 'config',
        note: '',
        createdBy: null,
        created: null,
      }),
    );
    const stored = (await this.#deps.store.defenderLists.list())
      .filter((e) => e.list === list)
      .map(
        (e): DefenderListView => ({
          list,
          cidr: e.cidr,
          source: 'store',
          note: e.note,
          createdBy: e.createdBy,
          created: e.createdAt.toISOString(),
        }),
      );
    return [...configured, ...stored];
  }

  /**
   * Puts an address or CIDR on a list; every serving process applies it from its next check. A deny entry that
   * covers the caller's own address is refused: it would lock the administrator out of the API they use.
   */
  async addEntry(actor: Actor, input: z.input<typeof defenderListEntrySchema>): Promise<DefenderListView> {
    checkActor(actor);
    const { list, cidr, note } = parseInput(defenderListEntrySchema, input);
    if (this.#configured(list).includes(cidr))
      throw new FerryError('ERR_ALREADY_EXISTS', `${cidr} is already on the ${list} list (from the config)`);
    if (list === 'deny' && actor.address !== undefined && matchesCidrs(cidrBlockList([cidr]), actor.address))
      throw new InvalidArgumentError(
        `${cidr} covers your own address ${normalizeAddress(actor.address)}: denying it would lock you out (use the CLI on the server, or another address)`,
      );
    const createdAt = new Date();
    const createdBy = `${actor.kind}:${actor.name}`;
    if (!(await this.#deps.store.defenderLists.add({ list, cidr, note, createdBy, createdAt })))
      throw new FerryError('ERR_ALREADY_EXISTS', `${cidr} is already on the ${list} list`);
    await this.#record.record(actor, `defender.${list}.add`, cidr, note ? { note } : undefined);
    return { list, cidr, source: 'store', note, createdBy, created: createdAt.toISOString() };
  }

  /** Takes a stored entry off a list; the config's entries stay (only a config change removes them). */
  async removeEntry(actor: Actor, list: DefenderListName, text: string): Promise<string> {
    checkActor(actor);
    const { cidr } = parseInput(defenderListEntrySchema, { list, cidr: text });
    if (this.#configured(list).includes(cidr))
      throw new PermissionDeniedError(
        `${cidr} is on the ${list} list from the config (${list}List); it cannot be removed at run time: change the config and restart`,
      );
    if (!(await this.#deps.store.defenderLists.remove(list, cidr)))
      throw new NotFoundError(`${cidr} is not on the ${list} list`);
    await this.#record.record(actor, `defender.${list}.remove`, cidr);
    return cidr;
  }

  /** The config's entries, in the same spelling as stored ones (so a config entry is recognized however written). */
  #configured(list: DefenderListName): string[] {
    const raw = list === 'allow' ? this.#deps.config.allowList : this.#deps.config.denyList;
    return raw.map((c) => normalizeCidr(c) ?? c);
  }
}
