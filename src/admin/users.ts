// User administration: add, change, remove, passwords, keys, TOTP, lockouts; each change one admin event.
import {
  addPublicKeys,
  addUser,
  homeDirOf,
  parsePermissions,
  publicView,
  removePublicKeys,
  requireUser,
  setPassword,
  uniqueProtocols,
} from '../auth/user-admin.js';
import { FerryError, InvalidArgumentError } from '../errors.js';
import { exportPrivateKey, generateSshKeyPair, type SshKeyType } from '../keys/private-keys.js';
import type { AuthMethod, UserPageOrder, UserPagePosition, UserRecord } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { mergeTransferQuotas } from '../util/transfer-quota.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { applyPgpSpecs } from './pgp-policy-spec.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';
import {
  applyMembershipChange,
  changesMemberships,
  checkMembershipChange,
  effectiveSettings,
  type Memberships,
  membershipsOf,
} from './user-groups.js';
import {
  secretSchema,
  type UserAddInput,
  type UserKeyGenerateInput,
  type UserSetInput,
  userAddSchema,
  userKeyGenerateSchema,
  userSetSchema,
} from './user-inputs.js';

export type UserView = ReturnType<typeof publicView>;

export class UserAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  /** The user's home as sessions use it. */
  homeOf(user: UserRecord): string {
    return homeDirOf(user, this.#deps.paths.homes);
  }

  async list(): Promise<UserView[]> {
    return (await this.#deps.store.users.list()).map((u) => publicView(u, this.homeOf(u)));
  }

  /** Up to `limit` users after `after` in `order` (one page from the store, not the whole list). */
  async page(order: UserPageOrder, after: UserPagePosition | undefined, limit: number): Promise<UserView[]> {
    return (await this.#deps.store.users.sortedPage(order, after, limit)).map((u) =>
      publicView(u, this.homeOf(u)),
    );
  }

  /** The user's own settings; the home shown is the one sessions use (a group's template applied). */
  async show(name: string): Promise<UserView> {
    const user = await requireUser(this.#deps.store.users, name);
    return publicView(user, await this.#effectiveHome(name));
  }

  async #effectiveHome(name: string): Promise<string> {
    return this.homeOf((await effectiveSettings(this.#deps.store, name)).user);
  }

  async add(actor: Actor, input: UserAddInput): Promise<UserView> {
    checkActor(actor);
    const o = parseInput(userAddSchema, input);
    const membership = { group: o.group, addGroups: o.groups, removeGroups: [] };
    for (const g of [...(o.group ? [o.group] : []), ...o.groups]) {
      if (!(await this.#deps.store.groups.findByName(g)))
        throw new FerryError('ERR_NOT_FOUND', `no group named ${g}`);
    }
    const grouped = o.group !== undefined || o.groups.length > 0;
    const user = await addUser(this.#deps.store.users, {
      name: o.name,
      password: o.password,
      publicKeysText: o.publicKeys,
      requiredMethods: o.requiredMethods,
      homeDir: o.home,
      // A member without a '/' of their own gets their groups' (or the default '*').
      permissions: parsePermissions(o.permissions, grouped ? {} : undefined),
      allowedSources: o.allowedSources,
      protocols: o.protocols,
      passwordPolicy: this.#deps.config.passwordPolicy,
    });
    const groups = grouped
      ? (await applyMembershipChange(this.#deps.store, user.name, membership)).to
      : undefined;
    await this.#record.record(actor, 'users.add', user.name, {
      password: o.password ? 'set' : 'none',
      publicKeys: user.publicKeys.map((k) => k.fingerprint),
      requiredMethods: user.requiredMethods,
      home: user.homeDir,
      permissions: user.permissions,
      protocols: user.protocols ?? [],
      ...(groups ? { groups } : {}),
    });
    return publicView(user, await this.#effectiveHome(user.name));
  }

  async set(actor: Actor, input: UserSetInput): Promise<UserView> {
    checkActor(actor);
    const o = parseInput(userSetSchema, input);
    const users = this.#deps.store.users;
    const user = await requireUser(users, o.name);
    const membership = { group: o.group, addGroups: o.addGroups, removeGroups: o.removeGroups };
    if (changesMemberships(membership)) await checkMembershipChange(this.#deps.store, o.name, membership);
    let permissions: UserRecord['permissions'] | undefined;
    if (o.permissions.length > 0 || o.resetPermissions || o.inheritPermissions.length > 0) {
      const map = { ...parsePermissions(o.permissions, o.resetPermissions ? undefined : user.permissions) };
      for (const folder of o.inheritPermissions) {
        if (!(folder in map))
          throw new InvalidArgumentError(`${o.name} has no own permission entry for ${folder}`);
        delete map[folder];
      }
      permissions = map;
    }
    const permsChanged = permissions !== undefined;
    const requiredMethods = o.requiredMethods ? [...new Set<AuthMethod>(o.requiredMethods)] : undefined;
    const pgpPolicies =
      o.pgp.length > 0 ? await applyPgpSpecs(this.#deps.pgpKeys, user.pgpPolicies, o.pgp) : undefined;
    const transferQuotas = o.transferQuotas
      ? mergeTransferQuotas(user.transferQuotas ?? {}, o.transferQuotas)
      : undefined;
    if (typeof o.storageEncryption === 'boolean' && this.#deps.config.storage.backend === 's3') {
      throw new InvalidArgumentError(
        'encrypted storage needs random writes, which S3 storage has not: a user can only follow the server (default)',
      );
    }
    const updated = await users.update(o.name, {
      transferQuotas,
      mustChangePassword: o.mustChangePassword,
      permissions,
      requiredMethods,
      // With TOTP on, a new rule is also what `totp disable` goes back to (without the code).
      ...(requiredMethods && user.requiredMethodsBeforeTotp
        ? { requiredMethodsBeforeTotp: requiredMethods.filter((m) => m !== 'keyboard-interactive') }
        : {}),
      homeDir: o.home,
      allowedSources: o.allowedSources,
      protocols: o.protocols ? uniqueProtocols(o.protocols) : undefined,
      pgpPolicies,
      quotaBytes: o.quotaBytes,
      quotaFiles: o.quotaFiles,
      expiresOn: o.expires,
      uploadRate: o.uploadRate,
      downloadRate: o.downloadRate,
      storageEncryption: o.storageEncryption,
    });
    if (!updated) throw new FerryError('ERR_NOT_FOUND', `no user named ${o.name}`);
    const groups = changesMemberships(membership)
      ? await applyMembershipChange(this.#deps.store, o.name, membership)
      : undefined;
    await this.#record.record(actor, 'users.set', o.name, {
      ...(groups ? { groups } : {}),
      ...(permsChanged ? { permissions: { from: user.permissions, to: updated.permissions } } : {}),
      ...(requiredMethods
        ? { requiredMethods: { from: user.requiredMethods, to: updated.requiredMethods } }
        : {}),
      ...(o.home !== undefined ? { home: { from: user.homeDir, to: updated.homeDir } } : {}),
      ...(o.allowedSources !== undefined
        ? { allowedSources: { from: user.allowedSources, to: updated.allowedSources } }
        : {}),
      ...(o.protocols !== undefined
        ? { protocols: { from: user.protocols ?? [], to: updated.protocols ?? [] } }
        : {}),
      ...(pgpPolicies ? { pgp: { from: user.pgpPolicies, to: updated.pgpPolicies } } : {}),
      ...(o.quotaBytes !== undefined
        ? { quotaBytes: { from: user.quota?.limitBytes, to: o.quotaBytes } }
        : {}),
      ...(o.uploadRate !== undefined ? { uploadRate: { from: user.uploadRate ?? 0, to: o.uploadRate } } : {}),
      ...(o.downloadRate !== undefined
        ? { downloadRate: { from: user.downloadRate ?? 0, to: o.downloadRate } }
        : {}),
      ...(transferQuotas ? { transferQuotas: { from: user.transferQuotas ?? {}, to: transferQuotas } } : {}),
      ...(o.mustChangePassword !== undefined
        ? { mustChangePassword: { from: user.mustChangePassword ?? false, to: o.mustChangePassword } }
        : {}),
      ...(o.expires !== undefined ? { expires: { from: user.expiresOn ?? null, to: o.expires } } : {}),
      ...(o.storageEncryption !== undefined
        ? { storageEncryption: { from: user.storageEncryption ?? null, to: o.storageEncryption } }
        : {}),
      ...(o.quotaFiles !== undefined
        ? { quotaFiles: { from: user.quota?.limitFiles, to: o.quotaFiles } }
        : {}),
    });
    return publicView(updated, await this.#effectiveHome(updated.name));
  }

  /** The settings the user's sessions get (their own, else their groups'), with where each came from. */
  async effective(name: string) {
    const { user, groups, sources } = await effectiveSettings(this.#deps.store, name);
    return {
      ...publicView(user, this.homeOf(user)),
      groups: { primary: groups.primary?.name ?? null, secondary: groups.secondary.map((g) => g.name) },
      /** Virtual folders mounted in the user's sessions (own and groups'); their permissions are in `permissions`. */
      folders: user.folders ?? [],
      sources,
      /** What the user moved in the current UTC day and month (counted only in the directions a limit applies to). */
      transferUsage: await this.#deps.store.transferUsage.usage(name, new Date()),
      /** Whether their new files are stored encrypted, and by whose setting (`users set --storage-encryption`). */
      encryption: {
        on: user.storageEncryption ?? this.#deps.config.storage.encryption.enabled,
        source: (user.storageEncryption ?? null) === null ? ('server' as const) : ('user' as const),
      },
    };
  }

  /** The user's groups: the primary one and the secondary ones in precedence order. */
  memberships(name: string): Promise<Memberships> {
    return membershipsOf(this.#deps.store, name);
  }

  async remove(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await requireUser(this.#deps.store.users, name);
    await this.#deps.store.users.remove(name);
    await this.#record.record(actor, 'users.remove', name);
  }

  /** Sets a password as the policy allows; it need not be changed at the next login unless `mustChange`. */
  async passwd(
    actor: Actor,
    name: string,
    password: Secret<string>,
    options: { readonly mustChange?: boolean } = {},
  ): Promise<void> {
    checkActor(actor);
    parseInput(secretSchema, password);
    await setPassword(this.#deps.store.users, name, password, this.#deps.config.passwordPolicy);
    if (options.mustChange) await this.#deps.store.users.update(name, { mustChangePassword: true });
    await this.#record.record(actor, 'users.passwd', name, {
      password: 'changed',
      ...(options.mustChange ? { mustChangePassword: true } : {}),
    });
  }

  async setDisabled(actor: Actor, name: string, disabled: boolean): Promise<void> {
    checkActor(actor);
    await requireUser(this.#deps.store.users, name);
    // Enabling also restarts the inactivity clock (inactivityDisableDays), or the account would stay refused.
    await this.#deps.store.users.update(
      name,
      disabled ? { disabled } : { disabled, lastLoginAt: new Date() },
    );
    await this.#record.record(actor, disabled ? 'users.disable' : 'users.enable', name, { disabled });
  }

  /** Accepts every key in an authorized_keys/.pub text; returns the fingerprints added. */
  async addKeys(actor: Actor, name: string, text: string): Promise<string[]> {
    checkActor(actor);
    const added = await addPublicKeys(this.#deps.store.users, name, text);
    await this.#record.record(actor, 'users.keys.add', name, { added });
    return added;
  }

  /** Removes the keys in a .pub text, or the one a SHA256 fingerprint names; returns the fingerprints removed. */
  async removeKeys(actor: Actor, name: string, textOrFingerprint: string): Promise<string[]> {
    checkActor(actor);
    const removed = await removePublicKeys(this.#deps.store.users, name, textOrFingerprint);
    await this.#record.record(actor, 'users.keys.remove', name, { removed });
    return removed;
  }

  /** Makes a key pair: the public half is stored, the private half (OpenSSH format) returned once, never kept. */
  async generateKey(
    actor: Actor,
    input: UserKeyGenerateInput,
  ): Promise<{ fingerprint: string; privateKey: Secret<string> }> {
    checkActor(actor);
    const o = parseInput(userKeyGenerateSchema, input);
    await requireUser(this.#deps.store.users, o.name);
    const pair = generateSshKeyPair(o.type as SshKeyType, undefined, `${o.name}@ferry`);
    const [added = ''] = await addPublicKeys(this.#deps.store.users, o.name, pair.publicLine);
    // The private half leaves Ferry here: say where to, never what. Recorded before it leaves.
    await this.#record.record(actor, 'users.keys.generate', o.name, {
      added: [added],
      private: true,
      to: o.destination,
    });
    return { fingerprint: added, privateKey: new Secret(exportPrivateKey(pair, 'openssh')) };
  }

  /**
   * Creates a TOTP secret and recovery codes and requires the code at login, after the factors the user
   * already has (like OpenSSH's AuthenticationMethods password,keyboard-interactive).
   */
  async enableTotp(
    actor: Actor,
    name: string,
    confirmed?: { secret: Secret<string>; code: Secret<string> },
  ): Promise<{ uri: Secret<string>; recoveryCodes: Secret<string[]>; requiredMethods: AuthMethod[] }> {
    checkActor(actor);
    const users = this.#deps.store.users;
    const user = await requireUser(users, name);
    // With `confirmed`, a drafted secret (draftTotp) is stored only if the code from the user's app matches it.
    const enrolment = confirmed
      ? await this.#deps.totp.confirm(name, confirmed.secret, confirmed.code)
      : await this.#deps.totp.enrol(name);
    if (!enrolment)
      throw new FerryError(
        'ERR_INVALID_ARGUMENT',
        'the code does not match the secret (type the current code; check the device clock)',
      );
    const first = user.requiredMethods.filter((m) => m !== 'keyboard-interactive');
    const factors: AuthMethod[] = first.length > 0 ? first : user.passwordHash ? ['password'] : ['publickey'];
    const requiredMethods: AuthMethod[] = [...factors, 'keyboard-interactive'];
    await users.update(name, {
      requiredMethods,
      // Enabling again (a new secret) keeps the rule from before the first enable.
      requiredMethodsBeforeTotp: user.requiredMethodsBeforeTotp ?? user.requiredMethods,
    });
    await this.#record.record(actor, 'users.totp.enable', name, { requiredMethods });
    return {
      uri: new Secret(enrolment.uri),
      recoveryCodes: new Secret([...enrolment.recoveryCodes]),
      requiredMethods,
    };
  }

  /** A TOTP secret for the user's authenticator app; nothing is stored until enableTotp confirms a code of it. */
  async draftTotp(name: string): Promise<{ secret: Secret<string>; uri: Secret<string> }> {
    await requireUser(this.#deps.store.users, name);
    const draft = await this.#deps.totp.draft(name);
    return { secret: draft.secret, uri: new Secret(draft.uri) };
  }

  /** Removes the TOTP secret; login goes back to the rule TOTP replaced, which is returned. */
  async disableTotp(actor: Actor, name: string): Promise<AuthMethod[]> {
    checkActor(actor);
    const users = this.#deps.store.users;
    const user = await requireUser(users, name);
    if (!(await this.#deps.totp.disable(name)))
      throw new FerryError('ERR_NOT_FOUND', `${name} has no TOTP secret`);
    const restored = [
      ...(user.requiredMethodsBeforeTotp ?? user.requiredMethods.filter((m) => m !== 'keyboard-interactive')),
    ];
    await users.update(name, { requiredMethods: restored, requiredMethodsBeforeTotp: null });
    await this.#record.record(actor, 'users.totp.disable', name, { requiredMethods: restored });
    return restored;
  }

  /** Ends an account lockout and forgets its failed logins. */
  async unlock(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    await requireUser(this.#deps.store.users, name);
    await this.#deps.store.accounts.clearFailures(name);
    await this.#record.record(actor, 'users.unlock', name);
  }

  /** First start: the `admin` account on a store without users; returns its one-time password. */
  async ensureAdmin(actor: Actor, password: Secret<string>): Promise<boolean> {
    checkActor(actor);
    if ((await this.#deps.store.users.list()).length > 0) return false;
    await addUser(this.#deps.store.users, { name: 'admin', password });
    await this.#record.record(actor, 'users.first-start', 'admin', {
      created: 'user',
      password: 'one-time, printed once',
    });
    return true;
  }
}
