// What the end-user web client needs of the serving process: users, the core's file sessions, auth parts, events.

import type { RateLimitOptions } from '@fastify/rate-limit';
import type { LockoutPolicy } from '../auth/authenticator.js';
import type { Defender } from '../auth/defender.js';
import type { ExternalPasswordSource } from '../auth/external-login.js';
import type { PasswordPolicy } from '../auth/password-policy.js';
import type { TotpService } from '../auth/totp.js';
import type { FileSessionFactory } from '../core/types.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { AccountSecurityRepository, UserLookup, WebSessionRepository } from '../store/types.js';
import type { Secret } from '../util/secret.js';

export interface WebClientDeps {
  /** The effective records (groups' defaults filled in). */
  readonly users: UserLookup;
  readonly accounts: AccountSecurityRepository;
  readonly lockout: LockoutPolicy;
  readonly maxAuthTries: number;
  readonly totp: TotpService;
  /** LDAP/AD password logins (`ldap.url`), the same source as SSH and FTPS logins. */
  readonly directory?: ExternalPasswordSource | undefined;
  readonly defender: Defender;
  readonly events: EventBus;
  /** `AppContext.fileSessions`: chroot, permissions, atomic uploads, events and audit, as for SFTP. */
  readonly fileSessions: FileSessionFactory;
  /** Where default homes live (`AppContext.paths.homes`). */
  readonly homesDir: string;
  /** Signed-in sessions shared by every process and node: a cookie counts only while its row is here. */
  readonly webSessions: WebSessionRepository;
  /** This node's id (`--node-id`), recorded with each sign-in. */
  readonly nodeId?: string | undefined;
  /** Signs session cookies; derived from the master key so every worker (and node) accepts every cookie. */
  readonly sessionKey: () => Secret<Buffer>;
  /** Cookies get `Secure` when the listener serves TLS. */
  readonly secureCookies: boolean;
  /** 'direct' mode has no partials, so resumable uploads are refused in it. */
  readonly uploadMode: 'atomic' | 'direct';
  /** config.maxFileSize (0: none): the largest upload a client may announce. */
  readonly maxFileSize: number;
  readonly log: Logger;
  /** Password policy: a sign-in whose password must be changed shows a change form first (absent: never). */
  readonly passwords?: {
    readonly policy: PasswordPolicy;
    change(name: string, password: Secret<string>): Promise<void>;
  };
  /** The REST API's login limit (api/rate-limit.ts), set by the API when it registers this client on its listener. */
  readonly loginRateLimit?: RateLimitOptions;
}
