// Who may use the REST API: administrator accounts (argon2id passwords) and API keys (shown once, stored hashed).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { hashPassword, verifyPassword } from '../auth/password.js';
import { FerryError } from '../errors.js';
import { API_ROLES, type ApiAdminRecord, type ApiKeyRecord, type ApiRole } from '../store/types.js';
import { Secret } from '../util/secret.js';
import type { Actor } from './actor.js';
import type { AdminDeps } from './deps.js';
import { type AdminRecorder, checkActor, parseInput } from './recorder.js';

/** Every key starts so: secret scanners and people recognise it, and a bearer token without it is not ours. */
export const API_KEY_PREFIX = 'ferry_';
/** `ferry_` and 43 base64url characters (256 random bits). */
const API_KEY_PATTERN = /^ferry_[A-Za-z0-9_-]{43}$/;
/** How much of a key lists show (the prefix and 6 random characters: 36 bits, enough to tell keys apart). */
const SHOWN_PREFIX_LENGTH = 12;
/** last-used is written at most this often per key: a busy script must not turn every request into a write. */
const TOUCH_INTERVAL_MS = 60_000;
/** A console login lasts a working day; logout (or a password change, or removing the account) ends it at once. */
export const CONSOLE_SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** A session id: 256 random bits, base64url. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const accountName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_", "@" or "-"');

export const apiKeyAddSchema = z.object({
  name: accountName,
  role: z.enum(API_ROLES),
  /** Absent: the key never expires. */
  expiresAt: z.date().optional(),
});
export type ApiKeyAddInput = z.input<typeof apiKeyAddSchema>;

export const adminAddSchema = z.object({
  name: accountName,
  role: z.enum(API_ROLES),
  password: z.instanceof(Secret<string>),
});
export type AdminAddInput = z.input<typeof adminAddSchema>;

/** SHA-256, not argon2: a key carries 256 random bits, so no guessing can reach it, and a plain hash can be looked up. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** What lists and the API show of a key: never its hash. */
export function apiKeyView(k: ApiKeyRecord) {
  return {
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    created: k.createdAt.toISOString(),
    expires: k.expiresAt?.toISOString() ?? null,
    lastUsed: k.lastUsedAt?.toISOString() ?? null,
    createdBy: k.createdBy,
  };
}

export function adminView(a: ApiAdminRecord) {
  return {
    name: a.name,
    role: a.role,
    created: a.createdAt.toISOString(),
    updated: a.updatedAt.toISOString(),
  };
}

/** The name of the administrator account the first start creates (beside the `admin` SFTP user). */
export const FIRST_ADMIN_NAME = 'admin';

const keySubject = (name: string) => `api key ${name}`;

export class ApiAccessAdmin {
  readonly #deps: AdminDeps;
  readonly #record: AdminRecorder;
  readonly #touched = new Map<number, number>();

  constructor(deps: AdminDeps, recorder: AdminRecorder) {
    this.#deps = deps;
    this.#record = recorder;
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return this.#deps.store.apiKeys.list();
  }

  /** Issues a key; the returned secret is the only copy (the store keeps its SHA-256). */
  async addKey(actor: Actor, input: ApiKeyAddInput): Promise<{ key: Secret<string>; record: ApiKeyRecord }> {
    checkActor(actor);
    const o = parseInput(apiKeyAddSchema, input);
    if (o.expiresAt && o.expiresAt.getTime() <= Date.now())
      throw new FerryError('ERR_INVALID_ARGUMENT', 'expiresAt: must be in the future');
    const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const record = await this.#deps.store.apiKeys.add({
      name: o.name,
      role: o.role,
      keyHash: hashApiKey(key),
      prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
      expiresAt: o.expiresAt ?? null,
      createdBy: `${actor.kind}:${actor.name}`,
    });
    await this.#record.record(actor, 'apikeys.add', keySubject(o.name), {
      role: o.role,
      prefix: record.prefix,
      expires: record.expiresAt?.toISOString() ?? 'never',
    });
    return { key: new Secret(key), record };
  }

  async removeKey(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    if (!(await this.#deps.store.apiKeys.remove(name)))
      throw new FerryError('ERR_NOT_FOUND', `no API key named ${name}`);
    await this.#record.record(actor, 'apikeys.remove', keySubject(name));
  }

  /**
   * The key a bearer token names, unless it is malformed, unknown or expired. Records its use (at most once a
   * minute per key and process).
   */
  async authenticateKey(token: string, now = new Date()): Promise<ApiKeyRecord | undefined> {
    if (!API_KEY_PATTERN.test(token)) return undefined;
    const hash = hashApiKey(token);
    const record = await this.#deps.store.apiKeys.findByHash(hash);
    // The lookup matched by an index; compare once more in constant time anyway.
    if (!record || !timingSafeEqual(Buffer.from(record.keyHash), Buffer.from(hash))) return undefined;
    if (record.expiresAt && record.expiresAt <= now) return undefined;
    const last = this.#touched.get(record.id) ?? record.lastUsedAt?.getTime() ?? 0;
    if (now.getTime() - last >= TOUCH_INTERVAL_MS) {
      this.#touched.set(record.id, now.getTime());
      await this.#deps.store.apiKeys.touch(record.id, now);
    }
    return record;
  }

  async listAdmins(): Promise<ApiAdminRecord[]> {
    return this.#deps.store.apiAdmins.list();
  }

  async addAdmin(actor: Actor, input: AdminAddInput): Promise<ApiAdminRecord> {
    checkActor(actor);
    const o = parseInput(adminAddSchema, input);
    const admin = await this.#deps.store.apiAdmins.add({
      name: o.name,
      role: o.role,
      passwordHash: await hashPassword(o.password),
    });
    await this.#record.record(actor, 'admins.add', o.name, { role: o.role, password: 'set' });
    return admin;
  }

  /** Changes an account's role; its console sessions are read again at each request, so it applies at once. */
  async setAdmin(actor: Actor, name: string, input: { role: ApiRole }): Promise<ApiAdminRecord> {
    checkActor(actor);
    const { role } = parseInput(adminAddSchema.pick({ role: true }), input);
    const before = await this.#deps.store.apiAdmins.get(name);
    if (!before || !(await this.#deps.store.apiAdmins.setRole(name, role)))
      throw new FerryError('ERR_NOT_FOUND', `no admin named ${name}`);
    await this.#record.record(actor, 'admins.set', name, { role: { from: before.role, to: role } });
    return (await this.#deps.store.apiAdmins.get(name)) ?? { ...before, role };
  }

  async passwdAdmin(actor: Actor, name: string, password: Secret<string>): Promise<void> {
    checkActor(actor);
    parseInput(adminAddSchema.shape.password, password);
    if (!(await this.#deps.store.apiAdmins.setPassword(name, await hashPassword(password))))
      throw new FerryError('ERR_NOT_FOUND', `no admin named ${name}`);
    // A new password ends every console session of the account (one may have been opened with the old one).
    const ended = await this.#deps.store.apiSessions.removeForAdmin(name);
    await this.#record.record(actor, 'admins.passwd', name, { password: 'changed', sessionsEnded: ended });
  }

  /**
   * Creates (or replaces) the account's TOTP secret and recovery codes, both shown once; from then on a console
   * login needs a current code (or a recovery code) besides the password. Console sessions opened with the
   * password alone end.
   */
  async enableTotp(
    actor: Actor,
    name: string,
  ): Promise<{ uri: Secret<string>; recoveryCodes: Secret<string[]> }> {
    checkActor(actor);
    if (!(await this.#deps.store.apiAdmins.get(name)))
      throw new FerryError('ERR_NOT_FOUND', `no admin named ${name}`);
    const enrolment = await this.#deps.adminTotp.enrol(name);
    const ended = await this.#deps.store.apiSessions.removeForAdmin(name);
    await this.#record.record(actor, 'admins.totp.enable', name, { sessionsEnded: ended });
    return { uri: new Secret(enrolment.uri), recoveryCodes: new Secret([...enrolment.recoveryCodes]) };
  }

  /** A TOTP secret for the account's authenticator app, not stored until confirmOwnTotp (nothing changes yet). */
  async draftTotp(name: string): Promise<{ secret: Secret<string>; uri: Secret<string> }> {
    if (!(await this.#deps.store.apiAdmins.get(name)))
      throw new FerryError('ERR_NOT_FOUND', `no admin named ${name}`);
    const draft = await this.#deps.adminTotp.draft(name);
    return { secret: draft.secret, uri: new Secret(draft.uri) };
  }

  /**
   * An administrator enrols their own TOTP: the password again (a borrowed console session cannot take over the
   * second factor) and a current code from the drafted secret. Every console session of the account then ends,
   * this one too: the next login is with the password and a code.
   */
  async confirmOwnTotp(
    actor: Actor,
    o: { name: string; password: Secret<string>; secret: Secret<string>; code: Secret<string> },
  ): Promise<{ recoveryCodes: Secret<string[]> }> {
    checkActor(actor);
    if (!(await this.authenticateAdmin(o.name, o.password)))
      throw new FerryError('ERR_INVALID_ARGUMENT', 'wrong password');
    const enrolment = await this.#deps.adminTotp.confirm(o.name, o.secret, o.code);
    if (!enrolment)
      throw new FerryError(
        'ERR_INVALID_ARGUMENT',
        'the code does not match the secret (type the current code; check the device clock)',
      );
    const ended = await this.#deps.store.apiSessions.removeForAdmin(o.name);
    await this.#record.record(actor, 'admins.totp.enable', o.name, { confirmed: true, sessionsEnded: ended });
    return { recoveryCodes: new Secret([...enrolment.recoveryCodes]) };
  }

  async disableTotp(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    if (!(await this.#deps.store.apiAdmins.get(name)))
      throw new FerryError('ERR_NOT_FOUND', `no admin named ${name}`);
    if (!(await this.#deps.adminTotp.disable(name)))
      throw new FerryError('ERR_NOT_FOUND', `${name} has no TOTP secret`);
    await this.#record.record(actor, 'admins.totp.disable', name);
  }

  /**
   * First start: the `admin` account (role admin) on a store that has no administrator accounts yet; returns
   * false (nothing done) otherwise. The caller prints a generated password once.
   */
  async ensureFirstAdmin(actor: Actor, password: Secret<string>): Promise<boolean> {
    checkActor(actor);
    if ((await this.#deps.store.apiAdmins.list()).length > 0) return false;
    await this.addAdmin(actor, { name: FIRST_ADMIN_NAME, role: 'admin', password });
    return true;
  }

  async removeAdmin(actor: Actor, name: string): Promise<void> {
    checkActor(actor);
    if (!(await this.#deps.store.apiAdmins.remove(name)))
      throw new FerryError('ERR_NOT_FOUND', `no admin named ${name}`);
    await this.#record.record(actor, 'admins.remove', name);
  }

  /**
   * Opens a console session when the password is right and, for an account with TOTP, the one-time code too
   * (each code is accepted once; a recovery code works once instead). The id (for an HttpOnly cookie) is returned
   * once and stored as its SHA-256, with a CSRF token the console sends back on every change.
   */
  async login(
    name: string,
    password: Secret<string>,
    code?: Secret<string>,
    now = new Date(),
  ): Promise<
    { sessionId: Secret<string>; csrfToken: string; admin: ApiAdminRecord; expiresAt: Date } | undefined
  > {
    const admin = await this.authenticateAdmin(name, password);
    if (!admin) return undefined;
    // Checked only after the password: a code is never spent (nor its step used up) by someone without it.
    if (
      (await this.#deps.adminTotp.enrolled(admin.name)) &&
      !(code && (await this.#deps.adminTotp.check(admin.name, code, now.getTime())))
    )
      return undefined;
    const sessionId = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + CONSOLE_SESSION_TTL_MS);
    await this.#deps.store.apiSessions.removeExpired(now);
    await this.#deps.store.apiSessions.add({
      idHash: hashApiKey(sessionId),
      adminName: admin.name,
      csrfToken,
      createdAt: now,
      expiresAt,
    });
    return { sessionId: new Secret(sessionId), csrfToken, admin, expiresAt };
  }

  /** The account and CSRF token of a live session; the account is read again, so a role change applies at once. */
  async authenticateSession(
    sessionId: string,
    now = new Date(),
  ): Promise<{ admin: ApiAdminRecord; csrfToken: string } | undefined> {
    if (!SESSION_ID_PATTERN.test(sessionId)) return undefined;
    const session = await this.#deps.store.apiSessions.find(hashApiKey(sessionId));
    if (!session || session.expiresAt <= now) return undefined;
    const admin = await this.#deps.store.apiAdmins.get(session.adminName);
    return admin ? { admin, csrfToken: session.csrfToken } : undefined;
  }

  /** Ends a console session at once (in every process: sessions live in the store). */
  async logout(sessionId: string): Promise<boolean> {
    if (!SESSION_ID_PATTERN.test(sessionId)) return false;
    return this.#deps.store.apiSessions.remove(hashApiKey(sessionId));
  }

  /** The account when the password is right; unknown names cost a full verification too. */
  async authenticateAdmin(name: string, password: Secret<string>): Promise<ApiAdminRecord | undefined> {
    const admin = await this.#deps.store.apiAdmins.get(name);
    return (await verifyPassword(admin?.passwordHash, password)) ? admin : undefined;
  }
}

export type { ApiRole };
