// A user's group memberships as `users add|set` change them, and the effective view `users show --effective` prints.
import { FerryError, InvalidArgumentError } from '../errors.js';
import { type EffectiveSources, loadEffectiveUser } from '../store/effective-user.js';
import type { Store } from '../store/types.js';

export interface MembershipChange {
  /** The new primary group; null: none; undefined: unchanged. */
  readonly group?: string | null | undefined;
  readonly addGroups: readonly string[];
  readonly removeGroups: readonly string[];
}

export interface Memberships {
  readonly primary: string | null;
  readonly secondary: string[];
}

export async function membershipsOf(store: Pick<Store, 'groups'>, user: string): Promise<Memberships> {
  const g = await store.groups.groupsOf(user);
  return { primary: g.primary?.name ?? null, secondary: g.secondary.map((s) => s.name) };
}

export const changesMemberships = (c: MembershipChange): boolean =>
  c.group !== undefined || c.addGroups.length > 0 || c.removeGroups.length > 0;

/** Checks the whole change before any of it is made (bad input changes nothing). */
export async function checkMembershipChange(
  store: Pick<Store, 'groups'>,
  user: string,
  change: MembershipChange,
): Promise<void> {
  const named = [...(change.group ? [change.group] : []), ...change.addGroups, ...change.removeGroups];
  for (const name of new Set(named)) {
    if (!(await store.groups.findByName(name)))
      throw new FerryError('ERR_NOT_FOUND', `no group named ${name}`);
  }
  const both = change.addGroups.filter((g) => change.removeGroups.includes(g));
  if (both.length > 0) throw new InvalidArgumentError(`group ${both[0]} is both added and removed`);
  const current = await membershipsOf(store, user);
  for (const name of change.removeGroups) {
    if (current.primary !== name && !current.secondary.includes(name))
      throw new InvalidArgumentError(`${user} is not in group ${name}`);
  }
}

/** Applies a checked change: the primary first, then removals, then additions (in the order given). */
export async function applyMembershipChange(
  store: Pick<Store, 'groups'>,
  user: string,
  change: MembershipChange,
): Promise<{ from: Memberships; to: Memberships }> {
  const from = await membershipsOf(store, user);
  if (change.group !== undefined) await store.groups.setPrimary(user, change.group);
  for (const name of change.removeGroups) {
    const now = await membershipsOf(store, user);
    if (now.primary === name) await store.groups.setPrimary(user, null);
    else await store.groups.removeSecondary(user, name);
  }
  for (const name of change.addGroups) {
    // Already the primary group: nothing to add.
    if ((await membershipsOf(store, user)).primary !== name) await store.groups.addSecondary(user, name);
  }
  return { from, to: await membershipsOf(store, user) };
}

/** The settings a session of the user gets, with where each came from (`user`, `group NAME`, `default`). */
export async function effectiveSettings(store: Pick<Store, 'users' | 'groups'>, name: string) {
  const effective = await loadEffectiveUser(store, name);
  if (!effective) throw new FerryError('ERR_NOT_FOUND', `no user named ${name}`);
  return effective;
}

export type { EffectiveSources };
