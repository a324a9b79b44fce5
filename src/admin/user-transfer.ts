// Users out of one server and into another: `ferry users export` writes Ferry's own JSON, `ferry users import`
// reads it or an SFTPGo dump (`sftpgo dumpdata`). Every user is checked before anything is written (a bad entry
// names itself and the file changes nothing); password hashes are kept as they are (argon2id, or bcrypt and
// PBKDF2 re-hashed at each user's first login), never re-entered.
import { posix } from 'node:path';
import { z } from 'zod';
import { checkImportedHash } from '../auth/foreign-hashes.js';
import { parsePermissions, validateUserName } from '../auth/user-admin.js';
import { isCidr } from '../config/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { parseAuthorizedKeys } from '../keys/ssh-keys.js';
import { AUTH_METHODS, PROTOCOLS, type Protocol, type UserRecord } from '../store/types.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor } from './recorder.js';
import { fromSftpgo } from './sftpgo-dump.js';

export const FERRY_USERS_FORMAT = 'ferry-users';

type PermissionMap = UserRecord['permissions'];
/** One user as Ferry exports it (and as an import from another format is normalised to). */
export const exportedUserSchema = z
  .object({
    name: z.string(),
    passwordHash: z.string().nullable().default(null),
    publicKeys: z.array(z.string()).default([]),
    home: z.string().nullable().default(null),
    permissions: z.record(z.string(), z.array(z.string())).default({ '/': ['*'] }),
    requiredMethods: z.array(z.enum(AUTH_METHODS)).default([]),
    allowedSources: z.array(z.string()).default([]),
    protocols: z.array(z.enum(PROTOCOLS)).default([]),
    disabled: z.boolean().default(false),
    quotaBytes: z.number().int().min(0).default(0),
    quotaFiles: z.number().int().min(0).default(0),
    uploadRate: z.number().int().min(0).default(0),
    downloadRate: z.number().int().min(0).default(0),
    expires: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .nullable()
      .default(null),
  })
  .strict();
export type ExportedUser = z.output<typeof exportedUserSchema>;

const ferryFileSchema = z.object({
  format: z.literal(FERRY_USERS_FORMAT),
  version: z.literal(1),
  users: z.array(z.unknown()),
});

export interface ImportReport {
  readonly format: 'ferry' | 'sftpgo';
  readonly created: string[];
  readonly updated: string[];
  /** Users left as they are (they exist and `update` was not asked for). */
  readonly unchanged: string[];
  /** What the file holds that Ferry did not import, one line each (SFTPGo groups, virtual folders…). */
  readonly notImported: string[];
}

/** Checks one normalised user fully (names, hashes, keys, paths, CIDRs); throws one line naming the user. */
function checkUser(raw: unknown, index: number): ExportedUser {
  const parsed = exportedUserSchema.safeParse(raw);
  const who = `user ${index + 1}${typeof (raw as { name?: unknown })?.name === 'string' ? ` (${(raw as { name: string }).name.slice(0, 40)})` : ''}`;
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(
      `${who}: ${issue?.path.join('.') || 'entry'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const u = parsed.data;
  withWho(who, () => validateUserName(u.name));
  if (u.passwordHash !== null) checkImportedHash(u.passwordHash, who);
  for (const key of u.publicKeys)
    if (parseAuthorizedKeys(key).length === 0)
      throw new InvalidArgumentError(`${who}: not a public key: ${key.slice(0, 40)}`);
  if (u.home !== null && (!posix.isAbsolute(u.home) || u.home.includes('\0')))
    throw new InvalidArgumentError(`${who}: home must be an absolute path`);
  for (const path of Object.keys(u.permissions))
    if (!path.startsWith('/') || path.includes('\0') || path.split('/').includes('..'))
      throw new InvalidArgumentError(
        `${who}: permission path '${path.slice(0, 60)}' must be absolute, without '..'`,
      );
  // The permission names, as `users set --perm` checks them.
  const map = withWho(who, () =>
    parsePermissions(
      Object.entries(u.permissions).map(([path, list]) => `${path}=${list.join(',')}`),
      {},
    ),
  );
  for (const cidr of u.allowedSources)
    if (!isCidr(cidr)) throw new InvalidArgumentError(`${who}: '${cidr.slice(0, 60)}' is not a CIDR`);
  if (u.requiredMethods.includes('password') && u.passwordHash === null)
    throw new InvalidArgumentError(`${who}: requires a password but has none`);
  return { ...u, permissions: map as Record<string, string[]> };
}

/** Runs `check`; its one-line error is prefixed with the user it is about. */
function withWho<T>(who: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`${who}: ${err.message}`);
    throw err;
  }
}

/** Reads an export or dump: its format, its users checked, and what it holds that is not imported. */
export function parseUserFile(text: string): {
  format: ImportReport['format'];
  users: ExportedUser[];
  notImported: string[];
} {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`not JSON: ${(err as Error).message}`);
  }
  const ferry = ferryFileSchema.safeParse(doc);
  let format: ImportReport['format'];
  let entries: unknown[];
  let notImported: string[] = [];
  if (ferry.success) {
    format = 'ferry';
    entries = ferry.data.users;
  } else if (doc && typeof doc === 'object' && Array.isArray((doc as { users?: unknown }).users)) {
    format = 'sftpgo';
    ({ users: entries, notImported } = fromSftpgo(doc as Record<string, unknown>));
  } else {
    throw new InvalidArgumentError(
      `neither a Ferry users export (format "${FERRY_USERS_FORMAT}", version 1) nor an SFTPGo dump (a "users" array)`,
    );
  }
  const users = entries.map(checkUser);
  const seen = new Set<string>();
  for (const u of users) {
    if (seen.has(u.name)) throw new InvalidArgumentError(`user ${u.name} appears twice`);
    seen.add(u.name);
  }
  return { format, users, notImported };
}

/** A stored user as Ferry exports it. TOTP secrets (sealed with this server's key) and PGP policies stay behind. */
export function exportUser(u: UserRecord): ExportedUser {
  return {
    name: u.name,
    passwordHash: u.passwordHash,
    publicKeys: u.publicKeys.map(
      (k) => `${k.algorithm} ${k.blob.toString('base64')}${k.comment ? ` ${k.comment}` : ''}`,
    ),
    home: u.homeDir,
    permissions: u.permissions as Record<string, string[]>,
    requiredMethods: [...(u.requiredMethodsBeforeTotp ?? u.requiredMethods)],
    allowedSources: [...u.allowedSources],
    protocols: [...(u.protocols ?? [])],
    disabled: u.disabled,
    quotaBytes: u.quota?.limitBytes ?? 0,
    quotaFiles: u.quota?.limitFiles ?? 0,
    uploadRate: u.uploadRate ?? 0,
    downloadRate: u.downloadRate ?? 0,
    expires: u.expiresOn ?? null,
  };
}

export class UserTransfer {
  constructor(
    private readonly deps: AdminDeps,
    private readonly recorder: AdminRecorder,
  ) {}

  /** Every user, in Ferry's export format (the caller writes it with mode 0600: it holds password hashes). */
  async export(
    actor: Actor,
  ): Promise<{ format: typeof FERRY_USERS_FORMAT; version: 1; exportedAt: string; users: ExportedUser[] }> {
    checkActor(actor);
    const users = (await this.deps.store.users.list()).map(exportUser);
    await this.recorder.record(actor, 'users.export', '*', { users: users.length });
    return { format: FERRY_USERS_FORMAT, version: 1, exportedAt: new Date().toISOString(), users };
  }

  /**
   * Imports a file's users: new ones are created, existing ones left alone unless `update` (then replaced
   * field by field, keys added). `dryRun` checks and reports without writing.
   */
  async import(
    actor: Actor,
    text: string,
    options: { readonly update?: boolean; readonly dryRun?: boolean } = {},
  ): Promise<ImportReport> {
    checkActor(actor);
    const { format, users, notImported } = parseUserFile(text);
    const report: ImportReport = { format, created: [], updated: [], unchanged: [], notImported };
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
        expiresOn: u.expires,
      });
      const have = new Set(existing?.publicKeys.map((k) => k.fingerprint) ?? []);
      for (const key of u.publicKeys.flatMap((text) => parseAuthorizedKeys(text)))
        if (!have.has(key.fingerprint)) await store.addPublicKey(u.name, key);
      await this.recorder.record(actor, existing ? 'users.import.update' : 'users.import.add', u.name, {
        format,
        password: u.passwordHash ? 'imported hash' : 'none',
        publicKeys: u.publicKeys.length,
      });
    }
    return report;
  }
}
