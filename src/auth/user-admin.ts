// User administration shared by the CLI (and later the REST API): validation, hashing, keys, permissions.
import { join, posix } from 'node:path';
import { isCidr } from '../config/schema.js';
import { FerryError, InvalidArgumentError } from '../errors.js';
import { parseAuthorizedKeys } from '../keys/ssh-keys.js';
import { PERMISSIONS, type Permission, type PermissionMap } from '../permission-vocabulary.js';
import {
  AUTH_METHODS,
  type AuthMethod,
  PROTOCOLS,
  type Protocol,
  type UserRecord,
  type UserRepository,
} from '../store/types.js';
import type { Secret } from '../util/secret.js';
import { hashPassword } from './password.js';
import {
  changePassword,
  NO_PASSWORD_POLICY,
  type PasswordPolicy,
  PasswordPolicyError,
  passwordRuleBroken,
} from './password-policy.js';

/** A user's home: their own directory, or `<homesDir>/<name>`. */
export function homeDirOf(user: UserRecord, homesDir: string): string {
  return user.homeDir ?? join(homesDir, user.name);
}

const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/i;

export function validateUserName(name: string): string {
  if (!USER_NAME.test(name)) {
    throw new InvalidArgumentError(
      `invalid user name '${name.slice(0, 40)}': use 1-32 letters, digits, '_', '.', '-', starting with a letter or '_'`,
    );
  }
  return name;
}

/** Parses `publickey,password` into the methods that must all succeed. */
export function parseRequiredMethods(spec: string): AuthMethod[] {
  const methods = spec
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of methods) {
    if (!(AUTH_METHODS as readonly string[]).includes(m)) {
      throw new InvalidArgumentError(
        `unknown authentication method '${m}' (known: ${AUTH_METHODS.join(', ')})`,
      );
    }
  }
  return [...new Set(methods as AuthMethod[])];
}

/** Parses `/in=list,download` entries into a permission map; '/' defaults to '*' unless given. */
/** Permission names checked against the vocabulary (a virtual folder's, say), duplicates dropped. */
export function parsePermissionNames(names: readonly string[], where: string): Permission[] {
  for (const p of names) {
    if (!(PERMISSIONS as readonly string[]).includes(p))
      throw new InvalidArgumentError(
        `unknown permission '${p}' in ${where} (known: ${PERMISSIONS.join(' ')})`,
      );
  }
  return [...new Set(names as Permission[])];
}

export function parsePermissions(
  specs: readonly string[],
  base: PermissionMap = { '/': ['*'] },
): PermissionMap {
  const map: Record<string, readonly Permission[]> = { ...base };
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`permission '${spec}' must look like /path=list,download`);
    const rawPath = spec.slice(0, eq);
    if (!rawPath.startsWith('/') || rawPath.includes('\0')) {
      throw new InvalidArgumentError(
        `permission path '${rawPath}' must be absolute (relative to the user's home)`,
      );
    }
    const path = posix.normalize(rawPath).replace(/(.)\/+$/, '$1');
    const perms = spec
      .slice(eq + 1)
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    for (const p of perms) {
      if (!(PERMISSIONS as readonly string[]).includes(p)) {
        throw new InvalidArgumentError(`unknown permission '${p}' (known: ${PERMISSIONS.join(' ')})`);
      }
    }
    map[path] = [...new Set(perms as Permission[])];
  }
  return map;
}

/** Parses `sftp,scp,https` (or `all`) into the protocols a user may use; [] means all. */
export function parseProtocols(spec: string): Protocol[] {
  const names = spec
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError(`--protocols needs ${PROTOCOLS.join(', ')} or all`);
  if (names.length === 1 && names[0] === 'all') return [];
  for (const n of names) {
    if (!(PROTOCOLS as readonly string[]).includes(n)) {
      throw new InvalidArgumentError(`unknown protocol '${n}': use ${PROTOCOLS.join(', ')} or all`);
    }
  }
  return uniqueProtocols(names as Protocol[]);
}

/** Parses `10.0.0.0/8,192.0.2.7` into the CIDRs a user may log in from. */
export function parseAllowedSources(spec: string): string[] {
  const cidrs = spec
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  for (const c of cidrs) {
    if (!isCidr(c)) throw new InvalidArgumentError(`'${c}' is not a CIDR such as 10.0.0.0/8 or 192.0.2.7`);
  }
  return cidrs;
}

/** The list as stored: each protocol once, in the canonical order (sftp, scp, ssh, https, ftps). */
export function uniqueProtocols(list: readonly Protocol[]): Protocol[] {
  return PROTOCOLS.filter((p) => list.includes(p));
}

export interface AddUserInput {
  name: string;
  password?: Secret<string> | undefined;
  publicKeysText?: readonly string[];
  requiredMethods?: readonly AuthMethod[];
  homeDir?: string | undefined;
  permissions?: PermissionMap | undefined;
  allowedSources?: readonly string[];
  protocols?: readonly Protocol[];
  /** The rules the password must meet (absent: none). */
  passwordPolicy?: PasswordPolicy;
}

export async function addUser(users: UserRepository, input: AddUserInput): Promise<UserRecord> {
  const name = validateUserName(input.name);
  const keys = (input.publicKeysText ?? []).flatMap((text) => parseAuthorizedKeys(text));
  const required = input.requiredMethods ?? [];
  if (required.includes('password') && !input.password) {
    throw new InvalidArgumentError(
      '--require includes password but no password was given (--password-stdin)',
    );
  }
  if (required.includes('publickey') && keys.length === 0) {
    throw new InvalidArgumentError('--require includes publickey but no key was given (--public-key FILE)');
  }
  if (input.homeDir !== undefined && !posix.isAbsolute(input.homeDir)) {
    throw new InvalidArgumentError('--home must be an absolute path');
  }
  if (await users.findByName(name)) throw new FerryError('ERR_ALREADY_EXISTS', `user ${name} already exists`);
  const policy = input.passwordPolicy ?? NO_PASSWORD_POLICY;
  const broken = input.password ? passwordRuleBroken(input.password.reveal(), policy) : undefined;
  if (broken) throw new PasswordPolicyError(broken);
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  let user = await users.create({
    name,
    passwordHash,
    homeDir: input.homeDir ?? null,
    requiredMethods: required,
    permissions: input.permissions,
    allowedSources: input.allowedSources ?? [],
    protocols: uniqueProtocols(input.protocols ?? []),
  });
  for (const key of keys) user = await users.addPublicKey(name, key);
  if (passwordHash) {
    user = (await users.update(name, { passwordChangedAt: new Date() })) ?? user;
    await users.rememberPasswordHash(name, passwordHash, policy.history);
  }
  return user;
}

export async function requireUser(users: UserRepository, name: string): Promise<UserRecord> {
  const user = await users.findByName(name);
  if (!user) throw new FerryError('ERR_NOT_FOUND', `no user named ${name}`);
  return user;
}

/** Sets a user's password as the policy allows (see password-policy.ts); throws a PasswordPolicyError naming the rule. */
export async function setPassword(
  users: UserRepository,
  name: string,
  password: Secret<string>,
  policy: PasswordPolicy = NO_PASSWORD_POLICY,
): Promise<void> {
  await changePassword(users, await requireUser(users, name), password, policy);
}

/** Adds every key in an authorized_keys/.pub text; returns the fingerprints added. */
export async function addPublicKeys(users: UserRepository, name: string, text: string): Promise<string[]> {
  await requireUser(users, name);
  const keys = parseAuthorizedKeys(text);
  if (keys.length === 0) throw new InvalidArgumentError('no public key found');
  for (const key of keys) await users.addPublicKey(name, key);
  return keys.map((k) => k.fingerprint);
}

/** Removes the keys given as text (or a bare SHA256 fingerprint); returns the fingerprints removed. */
export async function removePublicKeys(
  users: UserRepository,
  name: string,
  textOrFingerprint: string,
): Promise<string[]> {
  await requireUser(users, name);
  const trimmed = textOrFingerprint.trim();
  const fingerprints = trimmed.startsWith('SHA256:')
    ? [trimmed]
    : parseAuthorizedKeys(textOrFingerprint).map((k) => k.fingerprint);
  const removed: string[] = [];
  for (const fp of fingerprints) if (await users.removePublicKey(name, fp)) removed.push(fp);
  if (removed.length === 0) throw new FerryError('ERR_NOT_FOUND', `user ${name} has no such key`);
  return removed;
}

/** The user as shown by `users show --json` / `users list --json`: never a password hash. */
export function publicView(user: UserRecord, homeDir: string) {
  return {
    name: user.name,
    disabled: user.disabled,
    home: homeDir,
    hasPassword: user.passwordHash !== null,
    /** When the password was last set (null: before password policies were kept). */
    passwordChanged: user.passwordChangedAt?.toISOString() ?? null,
    /** The next password login must change the password. */
    mustChangePassword: user.mustChangePassword ?? false,
    requiredMethods: user.requiredMethods,
    permissions: user.permissions,
    allowedSources: user.allowedSources,
    pgpPolicies: user.pgpPolicies,
    quota: user.quota ?? { limitBytes: 0, limitFiles: 0, usedBytes: 0, usedFiles: 0 },
    expires: user.expiresOn ?? null,
    lastLogin: user.lastLoginAt?.toISOString() ?? null,
    uploadRate: user.uploadRate ?? 0,
    downloadRate: user.downloadRate ?? 0,
    /** Upload / download / total limits per UTC day or month; a kind absent: no limit (of its own). */
    transferQuotas: user.transferQuotas ?? {},
    /** Empty: every protocol. */
    protocols: user.protocols ?? [],
    /** Encrypted storage of the user's new files: true, false, or null for the server's setting. */
    storageEncryption: user.storageEncryption ?? null,
    /** 'ldap': provisioned from the directory, which checks its password; null: a local account. */
    authSource: user.authSource ?? null,
    /** The directory groups recorded at the account's last directory login. */
    externalGroups: user.externalGroups ?? [],
    publicKeys: user.publicKeys.map((k) => ({
      type: k.algorithm,
      fingerprint: k.fingerprint,
      comment: k.comment,
      options: k.options,
      added: k.createdAt.toISOString(),
    })),
    created: user.createdAt.toISOString(),
    updated: user.updatedAt.toISOString(),
  };
}
