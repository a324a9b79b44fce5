// Virtual folders: named directories with their own quota, mounted at a virtual path for users and groups.
import type { Permission } from '../permission-vocabulary.js';

export interface FolderRecord {
  readonly id: number;
  readonly name: string;
  /** Absolute directory on the server's disk: the folder's root ('/' inside it). */
  readonly path: string;
  readonly description: string;
  /** 0: no limit. Usage counts the folder's regular files, shared by everyone who writes there. */
  readonly quotaBytes: number;
  readonly quotaFiles: number;
  readonly usedBytes: number;
  readonly usedFiles: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewFolder {
  name: string;
  path: string;
  description?: string;
  quotaBytes?: number;
  quotaFiles?: number;
}

export type FolderPatch = Partial<Omit<NewFolder, 'name'>>;

/** Who a folder is mounted for. */
export interface FolderOwner {
  readonly kind: 'user' | 'group';
  readonly name: string;
}

/** A folder mounted at `virtualPath` for its owner, with the permissions that apply in all of it. */
export interface FolderMapping {
  readonly folder: FolderRecord;
  readonly owner: FolderOwner;
  readonly virtualPath: string;
  readonly permissions: readonly Permission[];
}

export interface FolderRepository {
  create(folder: NewFolder): Promise<FolderRecord>;
  findByName(name: string): Promise<FolderRecord | undefined>;
  list(): Promise<FolderRecord[]>;
  /** The updated record, or undefined when there is no such folder. */
  update(name: string, patch: FolderPatch): Promise<FolderRecord | undefined>;
  /** False when there is no such folder; refused (ERR_INVALID_ARGUMENT) while it is mounted for anyone. */
  remove(name: string): Promise<boolean>;
  /** One atomic change of the folder's usage, refused when a positive change would pass its limits. */
  changeUsage(name: string, bytes: number, files: number): Promise<boolean>;
  setUsage(name: string, bytes: number, files: number): Promise<void>;
  /** Mounts `folder` at `virtualPath` for the owner, replacing what that owner had mounted there. */
  mount(
    owner: FolderOwner,
    folder: string,
    virtualPath: string,
    permissions: readonly Permission[],
  ): Promise<void>;
  /** False when the owner had nothing mounted at `virtualPath`. */
  unmount(owner: FolderOwner, virtualPath: string): Promise<boolean>;
  /** The owner's mounts, by virtual path. */
  mountsOf(owner: FolderOwner): Promise<FolderMapping[]>;
  /** Everyone the folder is mounted for. */
  mountsOfFolder(name: string): Promise<FolderMapping[]>;
}
