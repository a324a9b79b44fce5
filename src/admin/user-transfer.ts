// Users out of one server and into another: `ferry users export` writes Ferry's own JSON, `ferry users import`
// reads it or an SFTPGo dump (`sftpgo dumpdata`). Every user is checked before anything is written (a bad entry
// names itself and the file changes nothing); password hashes are kept as they are (argon2id, or bcrypt and
// PBKDF2 re-hashed at each user's first login), never re-entered. The file's format is in user-file.ts.
import { InvalidArgumentError } from '../errors.js';
import { parseAuthorizedKeys } from '../keys/ssh-keys.js';
import { PROTOCOLS, type Protocol, type UserRecord } from '../store/types.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { checkImportedFolders, importFolders, importMounts } from './folder-import.js';
import { FolderAdmin } from './folders.js';
import { GroupAdmin } from './groups.js';
import { type AdminRecorder, checkActor } from './recorder.js';
import {
  type ExportedGroup,
  type ExportedUser,
  exportGroup,
  exportUser,
  FERRY_USERS_FORMAT,
  type ImportReport,
  parseUserFile,
} from './user-file.js';
import { applyMembershipChange, membershipsOf } from './user-groups.js';

type PermissionMap = UserRecord['permissions'];

interface ImportOptions {
  readonly update?: boolean;
  readonly dryRun?: boolean;
}

export class UserTransfer {
  constructor(
    private readonly deps: AdminDeps,
    private readonly recorder: AdminRecorder,
  ) {}

  /** Every user, in Ferry's export format (the caller writes it with mode 0600: it holds password hashes). */
  async export(actor: Actor): Promise<{
    format: typeof FERRY_USERS_FORMAT;
    version: 1;
    exportedAt: string;
    groups: ExportedGroup[];
    users: ExportedUser[];
  }> {
    checkActor(actor);
    const { store } = this.deps;
    const groups = (await store.groups.list()).map(exportGroup);
    const users: ExportedUser[] = [];
    for (const u of await store.users.list()) users.push(exportUser(u, await membershipsOf(store, u.name)));
    await this.recorder.record(actor, 'users.export', '*', { users: users.length, groups: groups.length });
    return { format: FERRY_USERS_FORMAT, version: 1, exportedAt: new Date().toISOString(), groups, users };
  }

  /** Creates the file's groups (or replaces them with `update`) before its users join them. */
  async #importGroups(
    actor: Actor,
    groups: readonly ExportedGroup[],
    report: ImportReport,
    o: ImportOptions,
  ) {
    const admin = new GroupAdmin(this.deps, this.recorder);
    for (const g of groups) {
      const existing = await this.deps.store.groups.findByName(g.name);
      if (existing && !o.update) {
        report.groups.unchanged.push(g.name);
        continue;
      }
      (existing ? report.groups.updated : report.groups.created).push(g.name);
      if (o.dryRun) continue;
      if (!existing) await admin.add(actor, g);
      else
        await admin.set(actor, {
          ...g,
          homeTemplate: g.homeTemplate ?? null,
          resetPermissions: true,
          // Replaced as a whole: a kind the file does not set is no default any more.
          transferQuotas: {
            upload: g.transferQuotas.upload ?? null,
            download: g.transferQuotas.download ?? null,
            total: g.transferQuotas.total ?? null,
          },
        });
    }
  }

  /** The user's memberships as the file has them (with `update`, also leaving groups the file does not name). */
  async #importMemberships(name: string, wanted: ExportedUser['groups'], update: boolean): Promise<void> {
    const { store } = this.deps;
    const now = await membershipsOf(store, name);
    await applyMembershipChange(store, name, {
      group:
        wanted.primary !== now.primary && (wanted.primary !== null || update) ? wanted.primary : undefined,
      addGroups: wanted.secondary.filter((g) => !now.secondary.includes(g) && g !== wanted.primary),
      removeGroups: update
        ? now.secondary.filter((g) => !wanted.secondary.includes(g) && g !== wanted.primary)
        : [],
    });
  }

  /**
   * Imports a file's users: new ones are created, existing ones left alone unless `update` (then replaced
   * field by field, keys added). `dryRun` checks and reports without writing.
   */
  async import(actor: Actor, text: string, options: ImportOptions = {}): Promise<ImportReport> {
    checkActor(actor);
    const { format, groups, users, folders, mounts, notImported } = parseUserFile(text);
    const folderAdmin = new FolderAdmin(this.deps, this.recorder);
    const checkedFolders = checkImportedFolders(folderAdmin, folders, mounts);
    const report: ImportReport = {
      format,
      created: [],
      updated: [],
      unchanged: [],
      groups: { created: [], updated: [], unchanged: [] },
      folders: { created: [], updated: [], unchanged: [] },
      notImported,
    };
    // Every group a user joins is in the file or the store, checked before anything is written.
    const inFile = new Set(groups.map((g) => g.name));
    for (const u of users)
      for (const g of [...(u.groups.primary ? [u.groups.primary] : []), ...u.groups.secondary])
        if (!inFile.has(g) && !(await this.deps.store.groups.findByName(g)))
          throw new InvalidArgumentError(`user ${u.name}: no group named ${g} in the file or in Ferry`);
    await this.#importGroups(actor, groups, report, options);
    Object.assign(
      report.folders,
      await importFolders(folderAdmin, actor, checkedFolders, options, async (name) =>
        Boolean(await this.deps.store.folders.findByName(name)),
      ),
    );
    const store = this.deps.store.users;
    for (const u of users) {
      const existing = await store.findByName(u.name);
      if (existing && !options.update) {
        report.unchanged.push(u.name);
        continue;
      }
      (existing ? report.updated : report.created).push(u.name);
      if (options.dryRun) continue;
      if (!existing) await store.create({ name: u.name, passwordHash: u.passwordHash, homeDir: u.home });
      await store.update(u.name, {
        passwordHash: u.passwordHash,
        homeDir: u.home,
        permissions: u.permissions as PermissionMap,
        requiredMethods: u.requiredMethods,
        allowedSources: u.allowedSources,
        protocols: PROTOCOLS.filter((p) => u.protocols.includes(p as Protocol)),
        disabled: u.disabled,
        quotaBytes: u.quotaBytes,
        quotaFiles: u.quotaFiles,
        uploadRate: u.uploadRate,
        downloadRate: u.downloadRate,
        transferQuotas: u.transferQuotas,
        expiresOn: u.expires,
        storageEncryption: u.storageEncryption,
      });
      const have = new Set(existing?.publicKeys.map((k) => k.fingerprint) ?? []);
      for (const key of u.publicKeys.flatMap((text) => parseAuthorizedKeys(text)))
        if (!have.has(key.fingerprint)) await store.addPublicKey(u.name, key);
      await this.#importMemberships(u.name, u.groups, options.update === true);
      await this.recorder.record(actor, existing ? 'users.import.update' : 'users.import.add', u.name, {
        format,
        password: u.passwordHash ? 'imported hash' : 'none',
        publicKeys: u.publicKeys.length,
        groups: u.groups,
      });
    }
    if (!options.dryRun)
      await importMounts(folderAdmin, actor, mounts, {
        users: new Set([...report.created, ...report.updated]),
        groups: new Set([...report.groups.created, ...report.groups.updated]),
      });
    return report;
  }
}
