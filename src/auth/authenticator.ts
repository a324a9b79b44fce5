// One connection's authentication state: methods tried, factors satisfied, failures counted; no user enumeration.
import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import type { AuthMethod, UserRecord, UserRepository } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import { verifyPassword } from './password.js';

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
  | { readonly method: 'other'; readonly username: string; readonly name: string };

export type AuthDecision =
  | { readonly result: 'accept'; readonly user: UserRecord }
  /** The key would be accepted: the client should now sign (SSH_MSG_USERAUTH_PK_OK). */
  | { readonly result: 'pk-ok' }
  | { readonly result: 'partial'; readonly methodsLeft: AuthMethod[] }
  | {
      readonly result: 'reject';
      readonly methodsLeft: AuthMethod[];
      readonly reason: string;
      readonly tooMany: boolean;
    };

/** Offered to everyone, known or not, so the list itself reveals nothing. */
const ALL_METHODS: AuthMethod[] = ['publickey', 'password'];

export interface AuthenticatorOptions {
  readonly maxAuthTries: number;
}

export class ConnectionAuthenticator {
  readonly #users: UserRepository;
  readonly #options: AuthenticatorOptions;
  #failures = 0;
  #username: string | undefined;
  readonly #satisfied = new Set<AuthMethod>();

  constructor(users: UserRepository, options: AuthenticatorOptions) {
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
    }
    if (attempt.method === 'none') return this.#reject('method none', false);
    if (attempt.method === 'other') return this.#reject(`method ${attempt.name} not offered`, true);

    const found = await this.#users.findByName(attempt.username);
    const user = found && !found.disabled ? found : undefined;

    if (attempt.method === 'password') {
      const ok = await verifyPassword(user?.passwordHash, attempt.password);
      if (!user) return this.#reject(found ? 'user disabled' : 'unknown user', true);
      if (!ok) return this.#reject('wrong password', true);
      return this.#succeed(user, 'password');
    }

    const key = user?.publicKeys.find(
      (k) =>
        k.algorithm === attempt.algorithm &&
        k.blob.length === attempt.blob.length &&
        timingSafeEqual(k.blob, attempt.blob),
    );
    if (!attempt.signature) {
      // Answering a key query is not a failed attempt (OpenSSH counts only signed tries).
      return key && user ? { result: 'pk-ok' } : this.#reject(this.#keyReason(found, user), false);
    }
    if (!user || !key) return this.#reject(this.#keyReason(found, user), true);
    // ssh2 reports rsa-sha2-256/512 as ssh-rsa with a hash; ssh-rsa without one is a SHA-1 signature.
    if (attempt.algorithm === 'ssh-rsa' && !attempt.signature.hashAlgo)
      return this.#reject('SHA-1 RSA signature refused', true);
    const parsed = utils.parseKey(key.blob);
    const valid =
      !(parsed instanceof Error) &&
      !Array.isArray(parsed) &&
      parsed.verify(attempt.signature.data, attempt.signature.signature, attempt.signature.hashAlgo) === true;
    if (!valid) return this.#reject('bad signature', true);
    return this.#succeed(user, 'publickey');
  }

  #keyReason(found: UserRecord | undefined, user: UserRecord | undefined): string {
    if (!found) return 'unknown user';
    if (!user) return 'user disabled';
    return 'key not authorized';
  }

  #succeed(user: UserRecord, method: AuthMethod): AuthDecision {
    this.#satisfied.add(method);
    const missing = user.requiredMethods.filter((m) => !this.#satisfied.has(m));
    if (missing.length === 0) return { result: 'accept', user };
    return { result: 'partial', methodsLeft: missing };
  }

  #reject(reason: string, counts: boolean): AuthDecision {
    if (counts) this.#failures++;
    const tooMany = this.#failures >= this.#options.maxAuthTries;
    // After a partial success only the still-missing methods are offered (like OpenSSH's AuthenticationMethods).
    const methodsLeft =
      this.#satisfied.size > 0 ? ALL_METHODS.filter((m) => !this.#satisfied.has(m)) : ALL_METHODS;
    return { result: 'reject', methodsLeft, reason, tooMany };
  }
}
