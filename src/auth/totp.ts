// One-time codes (TOTP, RFC 6238) as a second or third factor, with single-use recovery codes; no code works twice.
import { randomBytes } from 'node:crypto';
import type { MasterKey } from '../keys/sealing.js';
import type { TotpRepository } from '../store/types.js';
import { Secret } from '../util/secret.js';
import { hashPassword, verifyPassword } from './password.js';

/** Loaded when a code is made or checked: the server and most commands start faster without it. */
const loadOtplib = () => import('otplib');

const SEAL_LABEL = 'totp-secret';
const PERIOD_SECONDS = 30;
/** One step either side absorbs clock drift between the server and the user's phone. */
const TOLERANCE_SECONDS = PERIOD_SECONDS;
const RECOVERY_CODES = 10;
/** A secret brought back to be confirmed: base32 of at least 160 bits (RFC 4226's recommendation), as generated. */
const SECRET_PATTERN = /^[A-Z2-7]{32,128}$/;

/** A secret not stored yet: shown (QR and text) for an authenticator app, stored once a code from it is confirmed. */
export interface TotpDraft {
  readonly uri: string;
  readonly secret: Secret<string>;
}

export interface TotpEnrolment {
  readonly uri: string;
  readonly secret: Secret<string>;
  readonly recoveryCodes: readonly string[];
}

function recoveryCode(): string {
  const hex = randomBytes(6).toString('hex');
  return `${hex.slice(0, 4)}-${hex.slice(4, 8)}-${hex.slice(8)}`;
}

export class TotpService {
  constructor(
    private readonly accounts: TotpRepository,
    private readonly master: MasterKey,
    private readonly issuer = 'Ferry',
  ) {}

  /** A fresh secret and its otpauth URI for `user`; nothing is stored (see confirm). */
  async draft(user: string): Promise<TotpDraft> {
    const { generateSecret, generateURI } = await loadOtplib();
    const secret = generateSecret();
    return { uri: generateURI({ issuer: this.issuer, label: user, secret }), secret: new Secret(secret) };
  }

  /**
   * Stores a drafted secret once `code` shows the authenticator app holds it (the enrolment cannot lock the
   * account out by a mistyped secret); that code is spent, so it cannot also open a login. Undefined: wrong code.
   */
  async confirm(
    user: string,
    secret: Secret<string>,
    code: Secret<string>,
    now = Date.now(),
  ): Promise<TotpEnrolment | undefined> {
    const text = secret.reveal();
    if (!SECRET_PATTERN.test(text)) return undefined;
    const { verify } = await loadOtplib();
    const token = code.reveal().trim();
    if (!/^\d{6}$/.test(token)) return undefined;
    const result = await verify({
      secret: text,
      token,
      epoch: Math.floor(now / 1000),
      epochTolerance: TOLERANCE_SECONDS,
    });
    if (!result.valid) return undefined;
    const enrolment = await this.enrol(user, text);
    await this.accounts.advanceTotpStep(user, Math.floor(now / 1000 / PERIOD_SECONDS) + result.delta);
    return enrolment;
  }

  /** Creates (or replaces) the user's secret (a new one unless given) and recovery codes; both are shown once. */
  async enrol(user: string, given?: string): Promise<TotpEnrolment> {
    const { generateSecret, generateURI } = await loadOtplib();
    const secret = given ?? generateSecret();
    const recoveryCodes = Array.from({ length: RECOVERY_CODES }, recoveryCode);
    const recoveryHashes = await Promise.all(recoveryCodes.map((c) => hashPassword(new Secret(c))));
    await this.accounts.setTotp(user, {
      secretSealed: this.master.seal(Buffer.from(secret), SEAL_LABEL),
      recoveryHashes,
    });
    return {
      uri: generateURI({ issuer: this.issuer, label: user, secret }),
      secret: new Secret(secret),
      recoveryCodes,
    };
  }

  async enrolled(user: string): Promise<boolean> {
    return (await this.accounts.getTotp(user)) !== undefined;
  }

  disable(user: string): Promise<boolean> {
    return this.accounts.removeTotp(user);
  }

  /** A current code (each accepted once: replays in the same window fail) or an unused recovery code. */
  async check(user: string, answer: Secret<string>, now = Date.now()): Promise<'code' | 'recovery' | false> {
    const totp = await this.accounts.getTotp(user);
    if (!totp) return false;
    const text = answer.reveal().trim();
    if (/^\d{6}$/.test(text)) {
      const secret = this.master.open(totp.secretSealed, SEAL_LABEL).reveal().toString();
      const { verify } = await loadOtplib();
      const result = await verify({
        secret,
        token: text,
        epoch: Math.floor(now / 1000),
        epochTolerance: TOLERANCE_SECONDS,
      });
      if (!result.valid) return false;
      // The store moves the step forward only if it is newer than the last accepted one: that is the replay guard.
      const step = Math.floor(now / 1000 / PERIOD_SECONDS) + result.delta;
      return (await this.accounts.advanceTotpStep(user, step)) ? 'code' : false;
    }
    return (await this.#spendRecoveryCode(user, totp.recoveryHashes, text)) ? 'recovery' : false;
  }

  /**
   * Removes the recovery code's hash with a compare-and-set, so of several logins presenting the same code at
   * once exactly one wins; a concurrent change to the other codes only makes it read and try again.
   */
  async #spendRecoveryCode(user: string, hashes: readonly string[], code: string): Promise<boolean> {
    let spent: string | undefined;
    for (const hash of hashes) {
      if (await verifyPassword(hash, new Secret(code))) {
        spent = hash;
        break;
      }
    }
    if (spent === undefined) return false;
    let current = hashes;
    // A lost round means another code was spent (the list shrank) or ours was: it cannot happen more often than
    // there are codes.
    for (let tries = 0; tries <= RECOVERY_CODES; tries++) {
      const next = current.filter((h) => h !== spent);
      if (await this.accounts.replaceRecoveryHashes(user, current, next)) return true;
      const now = await this.accounts.getTotp(user);
      // Each hash has its own salt: once it is gone from the list, this code has been used.
      if (!now?.recoveryHashes.includes(spent)) return false;
      current = now.recoveryHashes;
    }
    return false;
  }
}
