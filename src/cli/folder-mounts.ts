// The `--folder` and `--remove-folder` options `users set` and `groups set` share: mounts applied through admin/folders.ts.
import type { Command } from 'commander';
import { cliActor } from '../admin/actor.js';
import { folderMountSchema, parseMountSpec } from '../admin/folders.js';
import type { AdminServices } from '../admin/index.js';
import { parseInput } from '../admin/recorder.js';
import { FerryError } from '../errors.js';
import type { FolderOwner } from '../store/types.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export const FOLDER_OPTION_HELP =
  "mount a virtual folder: NAME:/virtual/path[:perm,perm] (default permissions list,download: read-only; '*' for all) (repeatable)";

export interface FolderMountFlags {
  folder: string[];
  removeFolder: string[];
}

export function withFolderMountOptions(cmd: Command): Command {
  return cmd
    .option('--folder <spec>', FOLDER_OPTION_HELP, collect, [])
    .option(
      '--remove-folder <path>',
      'unmount the virtual folder at this virtual path (repeatable)',
      collect,
      [],
    );
}

/** The specs parsed before anything changes: a bad one is refused whole. */
export function parseFolderMounts(o: FolderMountFlags) {
  return { mounts: o.folder.map(parseMountSpec), unmounts: o.removeFolder };
}

/** True when the command was given no option but these (and where the data lives): the rest of it has nothing to do. */
export function onlyFolderOptions(cmd: Command, flags: object): boolean {
  const ignored = new Set(['folder', 'removeFolder', 'dataDir', 'store', 'json', 'config']);
  return Object.keys(flags).every((k) => ignored.has(k) || cmd.getOptionValueSource(k) !== 'cli');
}

/** Checks every mount and unmount before the command changes anything (bad input changes nothing). */
export async function checkFolderMounts(
  admin: AdminServices,
  owner: FolderOwner,
  parsed: ReturnType<typeof parseFolderMounts>,
): Promise<void> {
  for (const m of parsed.mounts) {
    parseInput(folderMountSchema, { owner, ...m });
    await admin.folders.show(m.folder);
  }
  const mine = (await admin.folders.mountsOf(owner)).map((m) => m.virtualPath);
  for (const virtualPath of parsed.unmounts) {
    if (!mine.includes(virtualPath))
      throw new FerryError('ERR_NOT_FOUND', `${owner.kind} ${owner.name} has no folder at ${virtualPath}`);
  }
}

/** Unmounts first (so a path can be remounted in one command), then mounts; one admin event each. */
export async function applyFolderMounts(
  admin: AdminServices,
  owner: FolderOwner,
  parsed: ReturnType<typeof parseFolderMounts>,
): Promise<string[]> {
  const lines: string[] = [];
  for (const virtualPath of parsed.unmounts) {
    await admin.folders.unmount(cliActor(), { owner, virtualPath });
    lines.push(`folder at ${virtualPath} unmounted`);
  }
  for (const m of parsed.mounts) {
    await admin.folders.mount(cliActor(), { owner, ...m });
    lines.push(
      `folder ${m.folder} mounted at ${m.virtualPath} (${(m.permissions ?? ['list', 'download']).join(',')})`,
    );
  }
  return lines;
}
