// The web client's session cookie: a signed, expiring token (no server state, so every worker accepts it) and its CSRF token.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../util/secret.js';

/** The cookie, scoped to /files so the REST API and the console never see it. */
export const FILES_COOKIE = 'ferry_files';
export const COOKIE_PATH = '/files';
/** A login lasts a working day; then the user signs in again. */
export const SESSION_SECONDS = 12 * 60 * 60;

export interface WebSession {
  /** Random id: the session id of every event and audit record of this login. */
  readonly sid: string;
  readonly user: string;
  /** The account's id: a user removed and created again under the same name is another account. */
  readonly userId: number;
  /** Derived from the stored password hash (see credentialStamp): a password change ends older sessions. */
  readonly stamp: string;
  /** Seconds since the epoch. */
  readonly expires: number;
}

function mac(key: Buffer, label: string, data: string): Buffer {
  return createHmac('sha256', key).update(`${label}\0${data}`).digest();
}

/** A random session id, `web-…`: every event and audit record of one sign-in carries it. */
export function newSessionId(): string {
  return `web-${randomBytes(9).toString('base64url')}`;
}

/** A short MAC of the account's password hash: changes with the password, and tells nothing about it. */
export function credentialStamp(key: Secret<Buffer>, passwordHash: string | null): string {
  return mac(key.reveal(), 'stamp', passwordHash ?? '')
    .subarray(0, 12)
    .toString('base64url');
}

export function newSession(
  user: { readonly id: number; readonly name: string; readonly passwordHash: string | null },
  key: Secret<Buffer>,
  sid = newSessionId(),
  now = Date.now(),
): WebSession {
  return {
    sid,
    user: user.name,
    userId: user.id,
    stamp: credentialStamp(key, user.passwordHash),
    expires: Math.floor(now / 1000) + SESSION_SECONDS,
  };
}

export function encodeSession(key: Secret<Buffer>, session: WebSession): string {
  const body = Buffer.from(
    JSON.stringify([session.sid, session.user, session.userId, session.stamp, session.expires]),
  ).toString('base64url');
  return `${body}.${mac(key.reveal(), 'session', body).toString('base64url')}`;
}

/** The session a cookie carries, or undefined when it is forged, malformed or expired. */
export function decodeSession(key: Secret<Buffer>, cookie: string, now = Date.now()): WebSession | undefined {
  const dot = cookie.indexOf('.');
  if (dot <= 0 || cookie.length > 1024) return undefined;
  const body = cookie.slice(0, dot);
  const given = Buffer.from(cookie.slice(dot + 1), 'base64url');
  const expected = mac(key.reveal(), 'session', body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const [sid, user, userId, stamp, expires] = JSON.parse(
      Buffer.from(body, 'base64url').toString('utf8'),
    ) as unknown[];
    if (
      typeof sid !== 'string' ||
      typeof user !== 'string' ||
      typeof userId !== 'number' ||
      typeof stamp !== 'string' ||
      typeof expires !== 'number'
    )
      return undefined;
    if (expires * 1000 <= now) return undefined;
    return { sid, user, userId, stamp, expires };
  } catch {
    return undefined;
  }
}

/** The CSRF token of a session: bound to it, so a token from another login (or user) is refused. */
export function csrfTokenOf(key: Secret<Buffer>, session: WebSession): string {
  return mac(key.reveal(), 'csrf', session.sid).toString('base64url');
}

export function csrfMatches(key: Secret<Buffer>, session: WebSession, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(csrfTokenOf(key, session));
  const got = Buffer.from(given);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * The MAC a redirect carries with its notice or error text: the folder page shows the text only when it was
 * written by this server for this sign-in, so a crafted link cannot put an attacker's words ("your session
 * expired, sign in at …") on a trusted page.
 */
export function outcomeMac(key: Secret<Buffer>, session: WebSession, kind: string, text: string): string {
  return mac(key.reveal(), 'outcome', `${session.sid}\0${kind}\0${text}`)
    .subarray(0, 16)
    .toString('base64url');
}

export function outcomeMatches(
  key: Secret<Buffer>,
  session: WebSession,
  kind: string,
  text: string,
  given: unknown,
): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(outcomeMac(key, session, kind, text));
  const got = Buffer.from(given);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
