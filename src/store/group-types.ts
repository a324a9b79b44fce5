// Groups: defaults their members inherit unless the user sets their own, and each user's memberships.
import type { PermissionMap } from '../permission-vocabulary.js';
import type { PgpPolicies } from '../util/pgp-policy.js';
import type { TransferQuotas } from '../util/transfer-quota.js';
import type { Protocol } from './user-types.js';

export interface GroupRecord {
  readonly id: number;
  readonly name: string;
  readonly description: string;
  /** Absolute path whose `%username%` is replaced by the member's name; null: the default home. */
  readonly homeTemplate: string | null;
  /** Only the folders the group names (no implied '/'). */
  readonly permissions: PermissionMap;
  /** Empty: no default (the member's own, else all). */
  readonly protocols: readonly Protocol[];
  readonly allowedSources: readonly string[];
  readonly pgpPolicies: PgpPolicies;
  /** 0: no default. */
  readonly quotaBytes: number;
  readonly quotaFiles: number;
  readonly uploadRate: number;
  readonly downloadRate: number;
  /** Per kind (upload, download, total): the default members get unless they set their own. */
  readonly transferQuotas: TransferQuotas;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewGroup {
  name: string;
  description?: string;
  homeTemplate?: string | null;
  permissions?: PermissionMap;
  protocols?: readonly Protocol[];
  allowedSources?: readonly string[];
  pgpPolicies?: PgpPolicies;
  quotaBytes?: number;
  quotaFiles?: number;
  uploadRate?: number;
  downloadRate?: number;
  transferQuotas?: TransferQuotas;
}

export type GroupPatch = Partial<Omit<NewGroup, 'name'>>;

/** A user's groups: the primary first in precedence, then the secondaries in the order they were added. */
export interface UserGroups {
  readonly primary: GroupRecord | undefined;
  readonly secondary: readonly GroupRecord[];
}

export interface GroupRepository {
  create(group: NewGroup): Promise<GroupRecord>;
  findByName(name: string): Promise<GroupRecord | undefined>;
  list(): Promise<GroupRecord[]>;
  /** The updated record, or undefined when the group does not exist. */
  update(name: string, patch: GroupPatch): Promise<GroupRecord | undefined>;
  /** False when there is no such group; refused (ERR_INVALID_ARGUMENT) while it has members. */
  remove(name: string): Promise<boolean>;
  /** Member names by name, each with whether the group is their primary one. */
  members(name: string): Promise<{ user: string; primary: boolean }[]>;
  groupsOf(userName: string): Promise<UserGroups>;
  /** Makes `group` the user's primary group (a secondary membership of it ends); null: no primary group. */
  setPrimary(userName: string, group: string | null): Promise<void>;
  /** Adds a secondary membership after the others; nothing changes when the user already is a member. */
  addSecondary(userName: string, group: string): Promise<void>;
  /** Ends a secondary membership; false when the user has none in that group. */
  removeSecondary(userName: string, group: string): Promise<boolean>;
}
