// LDAP as an external password source: cached directory verdicts, group mapping, first-login provisioning.
import type { Logger } from '../../logger.js';
import type { UserRecord, UserRepository } from '../../store/types.js';
import type { Secret } from '../../util/secret.js';
import type { ExternalLoginResult, ExternalPasswordSource } from '../external-login.js';
import { validateUserName } from '../user-admin.js';
import { BindCache } from './bind-cache.js';
import type { DirectoryVerdict } from './directory.js';
import { type GroupMappingSettings, mapDirectoryGroups } from './group-mapping.js';

export interface DirectoryLoginSettings extends GroupMappingSettings {
  /** Absolute, with %username%; none: the default `<dataDir>/homes/<name>`. */
  readonly homeTemplate?: string | undefined;
  readonly cacheTtl: number;
}

/** What checks a name and password with the directory (LdapDirectory; a test may hand another). */
export interface DirectoryVerifier {
  verify(username: string, password: Secret<string>): Promise<DirectoryVerdict>;
}

export class DirectoryLogin implements ExternalPasswordSource {
  readonly source = 'ldap' as const;
  readonly #directory: DirectoryVerifier;
  readonly #users: UserRepository;
  readonly #settings: DirectoryLoginSettings;
  readonly #log: Logger;
  readonly #cache: BindCache;

  constructor(
    directory: DirectoryVerifier,
    users: UserRepository,
    settings: DirectoryLoginSettings,
    log: Logger,
  ) {
    this.#directory = directory;
    this.#users = users;
    this.#settings = settings;
    this.#log = log;
    this.#cache = new BindCache(settings.cacheTtl);
  }

  handles(user: UserRecord | undefined): boolean {
    return user === undefined || user.authSource === 'ldap';
  }

  async login(
    username: string,
    password: Secret<string>,
    existing: UserRecord | undefined,
  ): Promise<ExternalLoginResult> {
    if (password.reveal() === '') return { ok: false, reason: 'empty password' };
    try {
      validateUserName(username);
    } catch {
      return { ok: false, reason: 'not a valid Ferry user name' };
    }
    let login = this.#cache.get(username, password);
    if (!login) {
      const verdict = await this.#directory.verify(username, password);
      if (!verdict.ok) {
        this.#cache.forget(username);
        return { ok: false, reason: verdict.reason };
      }
      login = { dn: verdict.dn, groups: verdict.groups };
      this.#cache.set(username, password, login);
    }
    const mapping = mapDirectoryGroups(login.groups, this.#settings);
    if (!mapping.allowed) return { ok: false, reason: mapping.reason };
    if (existing) {
      const same =
        existing.externalGroups?.length === login.groups.length &&
        existing.externalGroups.every((g, i) => g === login.groups[i]);
      const user = same ? existing : await this.#users.update(username, { externalGroups: login.groups });
      return user ? { ok: true, user } : { ok: false, reason: 'account removed during login' };
    }
    return this.#provision(username, login.dn, login.groups, mapping.template);
  }

  /** The first login: a new account from the template (home, permissions, protocols, limits), with no password. */
  async #provision(
    username: string,
    dn: string,
    groups: readonly string[],
    templateName: string | undefined,
  ): Promise<ExternalLoginResult> {
    const template = templateName ? await this.#users.findByName(templateName) : undefined;
    if (templateName && !template) {
      this.#log.error(
        { template: templateName },
        'LDAP template user does not exist; directory login refused',
      );
      return { ok: false, reason: `template user ${templateName} does not exist` };
    }
    const homeDir = this.#settings.homeTemplate?.replaceAll('%username%', username) ?? null;
    try {
      await this.#users.create({
        name: username,
        passwordHash: null,
        homeDir,
        permissions: template?.permissions,
        allowedSources: template?.allowedSources ?? [],
        protocols: template?.protocols ?? [],
        authSource: 'ldap',
        externalGroups: groups,
      });
    } catch (err) {
      // Two first logins at once: the other one created the account; use it if it is the directory's.
      if ((err as { code?: string }).code !== 'ERR_ALREADY_EXISTS') throw err;
    }
    let user = await this.#users.findByName(username);
    if (user?.authSource !== 'ldap') return { ok: false, reason: 'account conflict' };
    if (template) {
      const limits = {
        ...(template.quota
          ? { quotaBytes: template.quota.limitBytes, quotaFiles: template.quota.limitFiles }
          : {}),
        ...(template.uploadRate ? { uploadRate: template.uploadRate } : {}),
        ...(template.downloadRate ? { downloadRate: template.downloadRate } : {}),
      };
      if (Object.keys(limits).length > 0) user = (await this.#users.update(username, limits)) ?? user;
    }
    this.#log.info(
      { user: username, dn, groups, template: templateName ?? null },
      'provisioned account from the directory',
    );
    return { ok: true, user };
  }
}
