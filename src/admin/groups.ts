// Group administration: add, change, remove groups (the defaults their members inherit); each change one admin event.
import { z } from 'zod';
import { parsePermissions } from '../auth/user-admin.js';
import { isCidr } from '../config/schema.js';
import { FerryError, InvalidArgumentError } from '../errors.js';
import { homeTemplateProblem } from '../store/effective-user.js';
import { type GroupPatch, type GroupRecord, PROTOCOLS, type Protocol } from '../store/types.js';
import { mergeTransferQuotas } from '../util/transfer-quota.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { applyPgpSpecs } from './pgp-policy-spec.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';
import { transferQuotaChangesSchema } from './transfer-quota-spec.js';

const GROUP_NAME = /^[a-z_][a-z0-9_.-]{0,63}$/i;
const groupName = z.string().regex(GROUP_NAME, {
  message: "use 1-64 letters, digits, '_', '.', '-', starting with a letter or '_'",
});
const homeTemplate = z.string().superRefine((t, ctx) => {
  const problem = homeTemplateProblem(t);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(t)} ${problem}` });
});
const cidrs = z.array(
  z.string().refine(isCidr, { message: 'must be a CIDR such as 10.0.0.0/8 or 192.0.2.7' }),
);
const amount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const groupAddSchema = z.object({
  name: groupName,
  description: z.string().max(500).default(''),
  /** Absolute path with `%username%`, e.g. /srv/partners/%username%. */
  homeTemplate: homeTemplate.optional(),
  /** Permission specs (`/in=upload`); a group names only the folders it sets (no implied '/'). */
  permissions: z.array(z.string().min(1)).default([]),
  /** Members' protocols unless they set their own; [] for no default. */
  protocols: z.array(z.enum(PROTOCOLS)).default([]),
  allowedSources: cidrs.default([]),
  /** OpenPGP folder policies, as `users set --pgp`. */
  pgp: z.array(z.string()).default([]),
  quotaBytes: amount.default(0),
  quotaFiles: amount.default(0),
  uploadRate: amount.default(0),
  downloadRate: amount.default(0),
  /** Members' transfer quotas per kind unless they set their own. */
  transferQuotas: transferQuotaChangesSchema.default({}),
});
export type GroupAddInput = z.input<typeof groupAddSchema>;

export const groupSetSchema = z.object({
  name: groupName,
  description: z.string().max(500).optional(),
  /** null: members get the default home again. */
  homeTemplate: homeTemplate.nullable().optional(),
  /** Permission specs merged over the group's (over none with resetPermissions). */
  permissions: z.array(z.string().min(1)).default([]),
  resetPermissions: z.boolean().default(false),
  /** Folders whose entry the group drops. */
  removePermissions: z.array(z.string().min(1)).default([]),
  protocols: z.array(z.enum(PROTOCOLS)).optional(),
  allowedSources: cidrs.optional(),
  pgp: z.array(z.string()).default([]),
  quotaBytes: amount.optional(),
  quotaFiles: amount.optional(),
  uploadRate: amount.optional(),
  downloadRate: amount.optional(),
  /** Per kind; null removes the group's default. */
  transferQuotas: transferQuotaChangesSchema.optional(),
});
export type GroupSetInput = z.input<typeof groupSetSchema>;

export function groupView(group: GroupRecord, members: readonly { user: string; primary: boolean }[]) {
  return {
    name: group.name,
    description: group.description,
    homeTemplate: group.homeTemplate,
    permissions: group.permissions,
    /** Empty: no default. */
    protocols: group.protocols,
    allowedSources: group.allowedSources,
    pgpPolicies: group.pgpPolicies,
    quotaBytes: group.quotaBytes,
    quotaFiles: group.quotaFiles,
    uploadRate: group.uploadRate,
    downloadRate: group.downloadRate,
    /** A kind absent: no default. */
    transferQuotas: group.transferQuotas,
    members: members.map((m) => ({ user: m.user, primary: m.primary })),
    created: group.createdAt.toISOString(),
    updated: group.updatedAt.toISOString(),
  };
}
export type GroupView = ReturnType<typeof groupView>;

const uniqueProtocols = (list: readonly Protocol[]): Protocol[] => PROTOCOLS.filter((p) => list.includes(p));

export class GroupAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  async list(): Promise<GroupView[]> {
    const groups = this.#deps.store.groups;
    const out: GroupView[] = [];
    for (const g of await groups.list()) out.push(groupView(g, await groups.members(g.name)));
    return out;
  }

  async show(name: string): Promise<GroupView> {
    const group = await this.#require(name);
    return groupView(group, await this.#deps.store.groups.members(name));
  }

  async add(actor: Actor, input: GroupAddInput): Promise<GroupView> {
    checkActor(actor);
    const o = parseInput(groupAddSchema, input);
    if (await this.#deps.store.groups.findByName(o.name))
      throw new FerryError('ERR_ALREADY_EXISTS', `group ${o.name} already exists`);
    const group = await this.#deps.store.groups.create({
      name: o.name,
      description: o.description,
      homeTemplate: o.homeTemplate ?? null,
      permissions: parsePermissions(o.permissions, {}),
      protocols: uniqueProtocols(o.protocols),
      allowedSources: o.allowedSources,
      pgpPolicies: await applyPgpSpecs(this.#deps.pgpKeys, {}, o.pgp),
      quotaBytes: o.quotaBytes,
      quotaFiles: o.quotaFiles,
      uploadRate: o.uploadRate,
      downloadRate: o.downloadRate,
      transferQuotas: mergeTransferQuotas({}, o.transferQuotas),
    });
    const view = groupView(group, []);
    const { members: _m, created: _c, updated: _u, ...settings } = view;
    await this.#record.record(actor, 'groups.add', group.name, settings);
    return view;
  }

  async set(actor: Actor, input: GroupSetInput): Promise<GroupView> {
    checkActor(actor);
    const o = parseInput(groupSetSchema, input);
    const group = await this.#require(o.name);
    const patch: GroupPatch = {
      description: o.description,
      homeTemplate: o.homeTemplate,
      protocols: o.protocols ? uniqueProtocols(o.protocols) : undefined,
      allowedSources: o.allowedSources,
      quotaBytes: o.quotaBytes,
      quotaFiles: o.quotaFiles,
      uploadRate: o.uploadRate,
      downloadRate: o.downloadRate,
      transferQuotas: o.transferQuotas
        ? mergeTransferQuotas(group.transferQuotas, o.transferQuotas)
        : undefined,
    };
    if (o.permissions.length > 0 || o.resetPermissions || o.removePermissions.length > 0) {
      const map = { ...parsePermissions(o.permissions, o.resetPermissions ? {} : group.permissions) };
      for (const folder of o.removePermissions) {
        if (!(folder in map))
          throw new InvalidArgumentError(`group ${o.name} has no permission entry for ${folder}`);
        delete map[folder];
      }
      patch.permissions = map;
    }
    if (o.pgp.length > 0)
      patch.pgpPolicies = await applyPgpSpecs(this.#deps.pgpKeys, group.pgpPolicies, o.pgp);
    const updated = await this.#deps.store.groups.update(o.name, patch);
    if (!updated) throw new FerryError('ERR_NOT_FOUND', `no group named ${o.name}`);
    const before = groupView(group, []) as Record<string, unknown>;
    const after = groupView(updated, []) as Record<string, unknown>;
    const changes = Object.fromEntries(
      Object.keys(after)
        .filter((k) => !['members', 'created', 'updated'].includes(k))
        .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
        .map((k) => [k, { from: before[k], to: after[k] }]),
    );
    await this.#record.record(actor, 'groups.set', o.name, changes);
    return groupView(updated, await this.#deps.store.groups.members(o.name));
  }

  /** Refused while the group has members (they would silently lose its defaults). */
  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await this.#require(name);
    await this.#deps.store.groups.remove(name);
    await this.#record.record(actor, 'groups.remove', name);
  }

  async #require(name: string): Promise<GroupRecord> {
    const group = await this.#deps.store.groups.findByName(name);
    if (!group) throw new FerryError('ERR_NOT_FOUND', `no group named ${name}`);
    return group;
  }
}
