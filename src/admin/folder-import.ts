// Virtual folders of an imported SFTPGo dump: its local folders created (or replaced with --update) and mounted for
// the users and groups the import wrote; everything checked before the import writes anything.
import type { Actor } from './actor.js';
import { type FolderAddInput, type FolderAdmin, folderAddSchema, folderMountSchema } from './folders.js';
import { parseInput } from './recorder.js';
import type { SftpgoMount } from './sftpgo-dump.js';

export interface FolderImportReport {
  readonly created: string[];
  readonly updated: string[];
  readonly unchanged: string[];
}

/** Every folder and mount as `folders add` and `--folder` would take it; throws one line naming the bad one. */
export function checkImportedFolders(
  admin: FolderAdmin,
  folders: readonly Record<string, unknown>[],
  mounts: readonly SftpgoMount[],
): FolderAddInput[] {
  const checked = folders.map((f) => {
    try {
      const input = parseInput(folderAddSchema, f);
      admin.checkDirectory(input.path);
      return input;
    } catch (err) {
      (err as Error).message = `folder ${String(f.name)}: ${(err as Error).message}`;
      throw err;
    }
  });
  for (const m of mounts) {
    try {
      parseInput(folderMountSchema, m);
    } catch (err) {
      (err as Error).message =
        `${m.owner.kind} ${m.owner.name}, folder ${m.folder}: ${(err as Error).message}`;
      throw err;
    }
  }
  return checked;
}

/** Creates the file's folders (replaces them with `update`); `dryRun` only reports. */
export async function importFolders(
  admin: FolderAdmin,
  actor: Actor,
  folders: readonly FolderAddInput[],
  options: { readonly update?: boolean; readonly dryRun?: boolean },
  exists: (name: string) => Promise<boolean>,
): Promise<FolderImportReport> {
  const report: FolderImportReport = { created: [], updated: [], unchanged: [] };
  for (const f of folders) {
    const existing = await exists(f.name);
    if (existing && !options.update) {
      report.unchanged.push(f.name);
      continue;
    }
    (existing ? report.updated : report.created).push(f.name);
    if (options.dryRun) continue;
    if (existing) await admin.set(actor, f);
    else await admin.add(actor, f);
  }
  return report;
}

/** Mounts the folders for the owners the import wrote (an owner left unchanged keeps its own mounts). */
export async function importMounts(
  admin: FolderAdmin,
  actor: Actor,
  mounts: readonly SftpgoMount[],
  written: { readonly users: ReadonlySet<string>; readonly groups: ReadonlySet<string> },
): Promise<void> {
  for (const m of mounts) {
    const wrote = m.owner.kind === 'user' ? written.users : written.groups;
    if (wrote.has(m.owner.name)) await admin.mount(actor, m);
  }
}
