// One connection's authentication state: methods tried, factors satisfied, failures counted; no user enumeration.
import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import { isCertificateAlgorithm } from '../keys/ssh-certificate.js';
import {
  type AccountSecurityRepository,
  type AuthMethod,
  type AuthSource,
  type Protocol,
  protocolAllowed,
  type UserLookup,
  type UserRecord,
  type UserRepository,
} from '../store/types.js';
import { Secret } from '../util/secret.js';
import {
  type CertificateLogin,
  type CertificateTrust,
  holderSignatureValid,
  judgeUserCertificate,
} from './certificate-login.js';
import { cidrBlockList, matchesCidrs } from './defender.js';
import type { ExternalPasswordSource } from './external-login.js';
import { upgradeForeignHash } from './hash-upgrade.js';
import { verifyPassword } from './password.js';
import type { TotpService } from './totp.js';

const { utils } = ssh2;

export type AuthAttempt =
  | { readonly method: 'none'; readonly username: string }
  | { readonly method: 'password'; readonly username: string; readonly password: Secret<string> }
  | {
      readonly method: 'publickey';
      readonly username: string;
      readonly algorithm: string;
      readonly blob: Buffer;
      /** Absent when the client only asks whether the key would be accepted. */
      readonly signature?: {
        readonly data: Buffer;
        readonly signature: Buffer;
        readonly hashAlgo?: string | undefined;
      };
    }
  | {
      readonly method: 'keyboard-interactive';
      readonly username: string;
      /** Shows one prompt (echo off) and resolves with the answer, or undefined when the client gave none. */
      readonly ask: (prompt: string) => Promise<string | undefined>;
    }
  | { readonly method: 'other'; readonly username: string; readonly name: string };

export type AuthDecision =
  | {
      readonly result: 'accept';
      readonly user: UserRecord;
      /** The external identity source that checked the password (absent: Ferry's own store). */
      readonly source?: AuthSource;
      /** Set when the publickey factor was an OpenSSH user certificate (for the log and the audit trail). */
      readonly certificate?: CertificateLogin;
    }
  /** The key would be accepted: the client should now sign (SSH_MSG_USERAUTH_PK_OK). */
  | { readonly result: 'pk-ok'; readonly source?: never }
  | {
      readonly result: 'partial';
      readonly methodsLeft: AuthMethod[];
      /** Whose factor it was (a password due for change is changed before the next factor is asked). */
      readonly user: UserRecord;
      readonly source?: AuthSource;
    }
  | {
      readonly result: 'reject';
      readonly methodsLeft: AuthMethod[];
      readonly reason: string;
      /** Whether this rejection counted as a failed attempt (key queries and method probes do not). */
      readonly counted: boolean;
      readonly tooMany: boolean;
      readonly source?: AuthSource;
    };

/** Offered to everyone, known or not, so the list itself reveals nothing. */
const ALL_METHODS: AuthMethod[] = ['publickey', 'password'];

export interface LockoutPolicy {
  /** Failed logins within the window that lock the account; 0 turns lockout off. */
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly durationSeconds: number;
}

export interface AuthenticatorOptions {
  readonly maxAuthTries: number;
  /** The client's address, checked against each user's allowed sources. */
  readonly remoteAddress?: string;
  readonly accounts?: AccountSecurityRepository;
  readonly lockout?: LockoutPolicy;
  readonly totp?: TotpService;
  /**
   * The protocols this front end serves (SSH: sftp, scp, ssh): a user allowed none of them is refused like a
   * wrong password. Absent: no protocol check.
   */
  readonly protocols?: readonly Protocol[];
  /** Checks the passwords of names not in the store and of accounts it provisioned (LDAP); absent: none. */
  readonly directory?: ExternalPasswordSource;
  /** Trusted user CAs and revocations; absent: certificates are refused like unknown keys. */
  readonly certificates?: CertificateTrust;
}

/** An account with `expiresOn` may log in through that whole day (UTC) and is refused from the next one. */
export function isExpired(expiresOn: string | null | undefined, now: Date): boolean {
  if (!expiresOn) return false;
  return now.toISOString().slice(0, 10) > expiresOn;
}

/** Whether the user may log in from this address (their allowed networks; none listed: anywhere). */
export function sourceAllowed(user: UserRecord, address: string | undefined): boolean {
  if (user.allowedSources.length === 0) return true;
  return address !== undefined && address !== '' && matchesCidrs(cidrBlockList(user.allowedSources), address);
}

export class ConnectionAuthenticator {
  readonly #users: UserLookup & { readonly update?: UserRepository['update'] };
  readonly #options: AuthenticatorOptions;
  #failures = 0;
  #username: string | undefined;
  readonly #satisfied = new Set<AuthMethod>();
  #pending: AuthMethod[] | undefined;
  #locked: string | undefined;
  /** The certificate a publickey factor used, kept through a multi-factor login for the final record. */
  #certificateLogin: CertificateLogin | undefined;

  constructor(
    users: UserLookup & { readonly update?: UserRepository['update'] },
    options: AuthenticatorOptions,
  ) {
    this.#users = users;
    this.#options = options;
  }

  get failures(): number {
    return this.#failures;
  }

  async attempt(attempt: AuthAttempt): Promise<AuthDecision> {
    // A client that changes user name mid-way starts over (RFC 4252 §5 lets servers do so).
    if (this.#username !== attempt.username) {
      this.#username = attempt.username;
      this.#satisfied.clear();
      this.#pending = undefined;
      this.#certificateLogin = undefined;
    }
    if (attempt.method === 'none') return this.#reject('method none', false);
    if (attempt.method === 'other') return this.#reject(`method ${attempt.name} not offered`, true);

    const found = await this.#users.findByName(attempt.username);
    // Disabled users, users outside their allowed networks and locked accounts all look unknown from outside.
    const refusal = found ? await this.#refusal(found) : 'unknown user';
    const user = refusal ? undefined : found;

    if (attempt.method === 'keyboard-interactive') return this.#keyboardInteractive(attempt, user);

    if (attempt.method === 'password') {
      const directory = this.#options.directory;
      if (directory?.handles(found)) return this.#externalPassword(directory, attempt, found, refusal);
      const ok = await verifyPassword(user?.passwordHash, attempt.password);
      if (!user) return this.#reject(refusal ?? 'unknown user', true);
      if (!ok) return this.#fail(user, 'wrong password');
      await upgradeForeignHash(this.#users, user, attempt.password);
      return this.#succeed(user, 'password');
    }

    if (isCertificateAlgorithm(attempt.algorithm)) return this.#certificate(attempt, user, refusal);
    const key = user?.publicKeys.find(
      (k) =>
        k.algorithm === attempt.algorithm &&
        k.blob.length === attempt.blob.length &&
        timingSafeEqual(k.blob, attempt.blob),
    );
    if (!attempt.signature) {
      // Answering a key query is not a failed attempt against maxAuthTries; the server still scores a refused
      // one for the defender (a small score against key enumeration).
      return key && user ? { result: 'pk-ok' } : this.#reject(refusal ?? 'key not authorized', false);
    }
    if (!user) return this.#reject(refusal ?? 'unknown user', true);
    if (!key) return this.#fail(user, 'key not authorized');
    // ssh2 reports rsa-sha2-256/512 as ssh-rsa with a hash; ssh-rsa without one is a SHA-1 signature.
    if (attempt.algorithm === 'ssh-rsa' && !attempt.signature.hashAlgo)
      return this.#fail(user, 'SHA-1 RSA signature refused');
    const parsed = utils.parseKey(key.blob);
    const valid =
      !(parsed instanceof Error) &&
      !Array.isArray(parsed) &&
      parsed.verify(attempt.signature.data, attempt.signature.signature, attempt.signature.hashAlgo) === true;
    if (!valid) return this.#fail(user, 'bad signature');
    return this.#succeed(user, 'publickey');
  }

  /**
   * A password judged by the external source: a refused local check (disabled, expired, network, locked) stops it
   * before the directory is asked; a new account is checked once provisioned (its template's protocols).
   */
  async #externalPassword(
    directory: ExternalPasswordSource,
    attempt: Extract<AuthAttempt, { method: 'password' }>,
    found: UserRecord | undefined,
    refusal: string | undefined,
  ): Promise<AuthDecision> {
    const tag = (d: AuthDecision): AuthDecision =>
      d.result === 'pk-ok' ? d : { ...d, source: directory.source };
    if (found && refusal) return tag(await this.#fail(found, refusal));
    const result = await directory.login(attempt.username, attempt.password, found);
    if (!result.ok)
      return tag(found ? await this.#fail(found, result.reason) : this.#reject(result.reason, true));
    const refused = found ? undefined : await this.#refusal(result.user);
    if (refused) return tag(await this.#fail(result.user, refused));
    return tag(this.#succeed(result.user, 'password'));
  }

  /** A publickey attempt with an OpenSSH user certificate: its CA, not the user's key list, vouches for it. */
  async #certificate(
    attempt: Extract<AuthAttempt, { method: 'publickey' }>,
    user: UserRecord | undefined,
    refusal: string | undefined,
  ): Promise<AuthDecision> {
    const trust = this.#options.certificates;
    const verdict = trust
      ? await judgeUserCertificate(
          trust,
          attempt.algorithm,
          attempt.blob,
          attempt.username,
          this.#options.remoteAddress,
          new Date(),
        )
      : ({ ok: false, reason: 'certificates not accepted' } as const);
    if (!attempt.signature) {
      return verdict.ok && user
        ? { result: 'pk-ok' }
        : this.#reject(refusal ?? (verdict.ok ? 'unknown user' : verdict.reason), false);
    }
    if (!user) return this.#reject(refusal ?? 'unknown user', true);
    if (!verdict.ok) return this.#fail(user, verdict.reason);
    const { data, signature } = attempt.signature;
    if (!holderSignatureValid(verdict.certificate, attempt.algorithm, data, signature))
      return this.#fail(user, 'bad signature');
    if (verdict.login.forceCommand && !protocolAllowed(user, 'sftp'))
      return this.#fail(user, 'certificate forces internal-sftp, which the user may not use');
    return this.#succeed(user, 'publickey', verdict.login);
  }

  /** Keeps the account's last login (for inactivityDisableDays) to the hour: one store write per hour, not per login. */
  #recordLogin(user: UserRecord): void {
    const now = new Date();
    const update = this.#users.update;
    if (!update || (user.lastLoginAt && now.getTime() - user.lastLoginAt.getTime() < 3_600_000)) return;
    // The login stands whether or not this write lands (a full store must not refuse it).
    update.call(this.#users, user.name, { lastLoginAt: now }).catch(() => {});
  }

  /** Why an existing account may not log in now, or undefined when it may. */
  async #refusal(user: UserRecord): Promise<string | undefined> {
    if (user.disabled) return 'user disabled';
    if (user.inactive) return 'account inactive';
    if (isExpired(user.expiresOn, new Date())) return 'account expired';
    const address = this.#options.remoteAddress;
    if (!sourceAllowed(user, address)) return 'source address not allowed for this user';
    const served = this.#options.protocols;
    if (served && !served.some((p) => protocolAllowed(user, p)))
      return `protocol ${served.join('/')} not allowed`;
    const lockout = this.#options.lockout;
    if (lockout && lockout.threshold > 0 && this.#options.accounts) {
      const failures = await this.#options.accounts.failures(user.name);
      if (failures?.lockedUntil && failures.lockedUntil > new Date()) return 'account locked';
    }
    return undefined;
  }

  /** The one-time code, asked only once every other required factor has succeeded (so it is no oracle). */
  async #keyboardInteractive(
    attempt: Extract<AuthAttempt, { method: 'keyboard-interactive' }>,
    user: UserRecord | undefined,
  ): Promise<AuthDecision> {
    const totp = this.#options.totp;
    const ready =
      user &&
      totp &&
      user.requiredMethods.includes('keyboard-interactive') &&
      user.requiredMethods.every((m) => m === 'keyboard-interactive' || this.#satisfied.has(m)) &&
      (await totp.enrolled(user.name));
    if (!user || !totp || !ready) return this.#reject('keyboard-interactive not available', false);
    const answer = await attempt.ask('One-time code: ');
    if (answer === undefined || answer === '') return this.#fail(user, 'no one-time code');
    const used = await totp.check(user.name, new Secret(answer));
    if (!used) return this.#fail(user, 'wrong or reused one-time code');
    return this.#succeed(user, 'keyboard-interactive');
  }

  #succeed(user: UserRecord, method: AuthMethod, certificate?: CertificateLogin): AuthDecision {
    this.#satisfied.add(method);
    if (certificate) this.#certificateLogin = certificate;
    const missing = user.requiredMethods.filter((m) => !this.#satisfied.has(m));
    if (missing.length === 0) {
      if (this.#options.lockout?.threshold) void this.#options.accounts?.clearFailures(user.name);
      this.#recordLogin(user);
      const cert = this.#certificateLogin;
      if (!cert) return { result: 'accept', user };
      // force-command internal-sftp: honoured by letting this session open SFTP channels only.
      const narrowed: UserRecord = cert.forceCommand ? { ...user, protocols: ['sftp'] } : user;
      return { result: 'accept', user: narrowed, certificate: cert };
    }
    this.#pending = missing;
    return { result: 'partial', methodsLeft: missing, user };
  }

  /** A failed attempt on an existing account: counts for the connection and, when lockout is on, for the account. */
  async #fail(user: UserRecord, reason: string): Promise<AuthDecision> {
    const lockout = this.#options.lockout;
    const accounts = this.#options.accounts;
    if (lockout && lockout.threshold > 0 && accounts) {
      const now = new Date();
      const failures = await accounts.recordFailure(user.name, now, lockout.windowSeconds);
      if (failures.count >= lockout.threshold) {
        await accounts.lock(user.name, new Date(now.getTime() + lockout.durationSeconds * 1000));
        this.#locked = user.name;
      }
    }
    return this.#reject(reason, true);
  }

  /** Set when this connection's failures locked an account (for the log and the audit trail). */
  /**
   * Takes back a factor this connection earned: a password that had to be changed and was not counts for
   * nothing, so a key offered next cannot finish the login on it.
   */
  withdraw(method: AuthMethod): void {
    if (!this.#satisfied.delete(method)) return;
    this.#pending = [...new Set([method, ...(this.#pending ?? [])])];
  }

  get lockedAccount(): string | undefined {
    return this.#locked;
  }

  #reject(reason: string, counts: boolean): AuthDecision {
    if (counts) this.#failures++;
    const tooMany = this.#failures >= this.#options.maxAuthTries;
    // After a partial success only the still-missing methods are offered (like OpenSSH's AuthenticationMethods).
    const methodsLeft = this.#pending ?? ALL_METHODS;
    return { result: 'reject', methodsLeft: [...methodsLeft], reason, counted: counts, tooMany };
  }
}
