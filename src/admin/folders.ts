// Virtual folder administration: add, change, remove folders and mount them for users and groups; each change one admin event.
import { posix, resolve } from 'node:path';
import { z } from 'zod';
import { parsePermissionNames } from '../auth/user-admin.js';
import { FerryError, InvalidArgumentError } from '../errors.js';
import type { FolderMapping, FolderOwner, FolderRecord } from '../store/types.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

const FOLDER_NAME = /^[a-z_][a-z0-9_.-]{0,63}$/i;
const folderName = z.string().regex(FOLDER_NAME, {
  message: "use 1-64 letters, digits, '_', '.', '-', starting with a letter or '_'",
});
/** The core's partial-upload prefix: no component of a mount may look like one. */
const RESERVED_PREFIX = '.ferry-part';

function pathProblem(path: string, what: 'directory' | 'virtual path'): string | undefined {
  if (!path.startsWith('/')) return 'must be an absolute path';
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return 'must not contain control characters or backslashes';
  if (path === '/')
    return what === 'directory' ? 'must not be the root directory' : "must not be '/' (the home)";
  if (posix.normalize(path) !== path || path.endsWith('/'))
    return "must be written plainly (no '.', '..', doubled or trailing '/')";
  if (path.length > 1024) return 'is too long';
  if (what === 'virtual path' && path.split('/').some((c) => c.startsWith(RESERVED_PREFIX)))
    return `must not use the reserved name prefix ${RESERVED_PREFIX}`;
  return undefined;
}

const directory = z.string().superRefine((p, ctx) => {
  const problem = pathProblem(p, 'directory');
  if (problem) ctx.addIssue({ code: 'custom', message: `folder directory ${JSON.stringify(p)} ${problem}` });
});
const virtualPath = z.string().superRefine((p, ctx) => {
  const problem = pathProblem(p, 'virtual path');
  if (problem) ctx.addIssue({ code: 'custom', message: `virtual path ${JSON.stringify(p)} ${problem}` });
});
const amount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const ownerSchema = z.object({ kind: z.enum(['user', 'group']), name: z.string().min(1).max(256) });

export const folderAddSchema = z.object({
  name: folderName,
  /** Absolute directory on the server; created (0700) at first use when missing. */
  path: directory,
  description: z.string().max(500).default(''),
  quotaBytes: amount.default(0),
  quotaFiles: amount.default(0),
});
export type FolderAddInput = z.input<typeof folderAddSchema>;

export const folderSetSchema = z.object({
  name: folderName,
  path: directory.optional(),
  description: z.string().max(500).optional(),
  quotaBytes: amount.optional(),
  quotaFiles: amount.optional(),
});
export type FolderSetInput = z.input<typeof folderSetSchema>;

export const folderMountSchema = z.object({
  owner: ownerSchema,
  folder: folderName,
  virtualPath,
  /** SFTPGo's permission names; the default is read-only. */
  permissions: z.array(z.string().min(1)).min(1).default(['list', 'download']),
});
export type FolderMountInput = z.input<typeof folderMountSchema>;

export const folderUnmountSchema = z.object({
  owner: ownerSchema,
  virtualPath,
  /** When given, the mount there must be of this folder. */
  folder: folderName.optional(),
});
export type FolderUnmountInput = z.input<typeof folderUnmountSchema>;

/** `NAME:/virtual/path[:perm,perm]` as the CLI's `--folder` takes it. */
export function parseMountSpec(spec: string): {
  folder: string;
  virtualPath: string;
  permissions?: string[];
} {
  const first = spec.indexOf(':');
  if (first <= 0)
    throw new InvalidArgumentError(`--folder '${spec}' must look like NAME:/virtual/path[:list,download]`);
  const folder = spec.slice(0, first);
  const rest = spec.slice(first + 1);
  const second = rest.lastIndexOf(':');
  if (second < 0) return { folder, virtualPath: rest };
  const permissions = rest
    .slice(second + 1)
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  parsePermissionNames(permissions, `--folder '${spec}'`);
  return { folder, virtualPath: rest.slice(0, second), permissions };
}

export function folderView(folder: FolderRecord, mounts: readonly FolderMapping[]) {
  return {
    name: folder.name,
    path: folder.path,
    description: folder.description,
    quotaBytes: folder.quotaBytes,
    quotaFiles: folder.quotaFiles,
    usedBytes: folder.usedBytes,
    usedFiles: folder.usedFiles,
    mounts: mounts.map((m) => ({ owner: m.owner, virtualPath: m.virtualPath, permissions: m.permissions })),
    created: folder.createdAt.toISOString(),
    updated: folder.updatedAt.toISOString(),
  };
}
export type FolderView = ReturnType<typeof folderView>;

export class FolderAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  async list(): Promise<FolderView[]> {
    const folders = this.#deps.store.folders;
    const out: FolderView[] = [];
    for (const f of await folders.list()) out.push(folderView(f, await folders.mountsOfFolder(f.name)));
    return out;
  }

  async show(name: string): Promise<FolderView> {
    const folder = await this.#require(name);
    return folderView(folder, await this.#deps.store.folders.mountsOfFolder(name));
  }

  /** The mounts a user or group has of its own (not through groups). */
  async mountsOf(
    owner: FolderOwner,
  ): Promise<{ folder: string; virtualPath: string; permissions: readonly string[] }[]> {
    return (await this.#deps.store.folders.mountsOf(owner)).map((m) => ({
      folder: m.folder.name,
      virtualPath: m.virtualPath,
      permissions: m.permissions,
    }));
  }

  async add(actor: Actor, input: FolderAddInput): Promise<FolderView> {
    checkActor(actor);
    const o = parseInput(folderAddSchema, input);
    this.checkDirectory(o.path);
    if (await this.#deps.store.folders.findByName(o.name))
      throw new FerryError('ERR_ALREADY_EXISTS', `folder ${o.name} already exists`);
    const folder = await this.#deps.store.folders.create(o);
    await this.#record.record(actor, 'folders.add', folder.name, {
      path: folder.path,
      description: folder.description,
      quotaBytes: folder.quotaBytes,
      quotaFiles: folder.quotaFiles,
    });
    return folderView(folder, []);
  }

  async set(actor: Actor, input: FolderSetInput): Promise<FolderView> {
    checkActor(actor);
    const o = parseInput(folderSetSchema, input);
    const before = await this.#require(o.name);
    if (o.path !== undefined) this.checkDirectory(o.path);
    const { name, ...patch } = o;
    const after = await this.#deps.store.folders.update(name, patch);
    if (!after) throw new FerryError('ERR_NOT_FOUND', `no folder named ${name}`);
    const changes = Object.fromEntries(
      (['path', 'description', 'quotaBytes', 'quotaFiles'] as const)
        .filter((k) => before[k] !== after[k])
        .map((k) => [k, { from: before[k], to: after[k] }]),
    );
    await this.#record.record(actor, 'folders.set', name, changes);
    return folderView(after, await this.#deps.store.folders.mountsOfFolder(name));
  }

  /** Refused while the folder is mounted for anyone; its directory and files stay on disk. */
  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await this.#require(name);
    await this.#deps.store.folders.remove(name);
    await this.#record.record(actor, 'folders.remove', name);
  }

  /** Mounts a folder for a user or a group (replacing what that owner had at the path); next login sees it. */
  async mount(actor: Actor, input: FolderMountInput): Promise<void> {
    checkActor(actor);
    const o = parseInput(folderMountSchema, input);
    await this.#require(o.folder);
    await this.#requireOwner(o.owner);
    const clash = (await this.#deps.store.folders.mountsOf(o.owner)).find(
      (m) =>
        m.virtualPath !== o.virtualPath &&
        (o.virtualPath.startsWith(`${m.virtualPath}/`) || m.virtualPath.startsWith(`${o.virtualPath}/`)),
    );
    if (clash)
      throw new InvalidArgumentError(
        `${o.virtualPath} would nest with ${o.owner.kind} ${o.owner.name}'s folder at ${clash.virtualPath}: mounts never nest`,
      );
    const permissions = parsePermissionNames(o.permissions, `the mount of ${o.folder}`);
    await this.#deps.store.folders.mount(o.owner, o.folder, o.virtualPath, permissions);
    await this.#record.record(actor, 'folders.mount', `${o.owner.kind} ${o.owner.name}`, {
      folder: o.folder,
      virtualPath: o.virtualPath,
      permissions,
    });
  }

  async unmount(actor: Actor, input: FolderUnmountInput): Promise<void> {
    checkActor(actor);
    const o = parseInput(folderUnmountSchema, input);
    await this.#requireOwner(o.owner);
    const mounted = (await this.#deps.store.folders.mountsOf(o.owner)).find(
      (m) => m.virtualPath === o.virtualPath,
    );
    if (o.folder !== undefined && mounted !== undefined && mounted.folder.name !== o.folder)
      throw new FerryError(
        'ERR_NOT_FOUND',
        `${o.owner.kind} ${o.owner.name} has folder ${mounted.folder.name} at ${o.virtualPath}, not ${o.folder}`,
      );
    if (!(await this.#deps.store.folders.unmount(o.owner, o.virtualPath)))
      throw new FerryError(
        'ERR_NOT_FOUND',
        `${o.owner.kind} ${o.owner.name} has no folder at ${o.virtualPath}`,
      );
    await this.#record.record(actor, 'folders.unmount', `${o.owner.kind} ${o.owner.name}`, {
      virtualPath: o.virtualPath,
    });
  }

  /** A folder must not expose the data dir (the store, the master key, every home) nor lie above it. */
  checkDirectory(path: string): void {
    const dataDir = resolve(this.#deps.config.dataDir);
    if (path === dataDir || path.startsWith(`${dataDir}/`) || dataDir.startsWith(`${path}/`))
      throw new InvalidArgumentError(
        `folder directory ${path} overlaps the data dir ${dataDir}: choose a directory outside it`,
      );
  }

  async #require(name: string): Promise<FolderRecord> {
    const folder = await this.#deps.store.folders.findByName(name);
    if (!folder) throw new FerryError('ERR_NOT_FOUND', `no folder named ${name}`);
    return folder;
  }

  async #requireOwner(owner: FolderOwner): Promise<void> {
    const found =
      owner.kind === 'user'
        ? await this.#deps.store.users.findByName(owner.name)
        : await this.#deps.store.groups.findByName(owner.name);
    if (!found) throw new FerryError('ERR_NOT_FOUND', `no ${owner.kind} named ${owner.name}`);
  }
}
