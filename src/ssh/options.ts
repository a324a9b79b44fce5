// What the SSH server is given: listener, algorithm policy, host keys, limits, and the services it hands off to.
// A file of its own so the connection and channel files can read it without importing server.ts (no cycle).

import type { LockoutPolicy } from '../auth/authenticator.js';
import type { CertificateTrust } from '../auth/certificate-login.js';
import type { Defender } from '../auth/defender.js';
import type { ExternalPasswordSource } from '../auth/external-login.js';
import type { PasswordPolicy } from '../auth/password-policy.js';
import type { TotpService } from '../auth/totp.js';
import type { FileSessionFactory, ResourceBudgets, SessionRegistry } from '../core/types.js';
import type { EventBus } from '../events/bus.js';
import type { HostKeyMaterial } from '../key-manager/host-keys.js';
import type { Logger } from '../logger.js';
import type { SftpRequestObserver } from '../sftp/server.js';
import type { AlgorithmProfile } from '../ssh-algorithms.js';
import type { AccountSecurityRepository, UserLookup } from '../store/types.js';
import type { Secret } from '../util/secret.js';
import type { ConnectionLimits } from './admission.js';
import type { RekeyPolicy } from './rekey.js';

export type { SessionRegistry };

export interface SshServerOptions {
  readonly listen: string;
  readonly port: number;
  readonly algorithms: AlgorithmProfile;
  /** Pending and active host keys, oldest first: all are announced; presentedHostKeys picks the ones that sign. */
  readonly hostKeys: readonly HostKeyMaterial[];
  /**
   * CIDRs of load balancers whose connections begin with a PROXY protocol header (v1 or v2) naming the real
   * client; empty: none (every connection is plain SSH).
   */
  readonly proxyProtocolFrom?: readonly string[];
  /** Seconds a connection may take from TCP accept to successful authentication. */
  readonly loginGraceTime: number;
  readonly maxAuthTries: number;
  /** Where user homes live when a user has none of their own. */
  readonly homesDir: string;
  /** The effective records (groups' defaults filled in). */
  readonly users: UserLookup;
  /**
   * Password policy: a password login of a user whose password is past `policy.maxAgeDays` (or flagged) is asked
   * for a new one (RFC 4252 §8), which `change` checks against the policy and stores. Absent: never asked.
   */
  readonly passwords?: {
    readonly policy: PasswordPolicy;
    change(name: string, password: Secret<string>): Promise<void>;
  };
  readonly fileSessions: FileSessionFactory;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly defender: Defender;
  readonly limits: ConnectionLimits & {
    readonly maxSessionsPerUser: number;
    /** Session channels (SFTP, SCP) open at once on one connection; more are refused (OpenSSH's MaxSessions). */
    readonly maxChannelsPerConnection: number;
    /** Seconds without any file operation before an authenticated connection is closed; 0: never. */
    readonly idleTimeout: number;
  };
  /** OpenSSH moduli file with the diffie-hellman-group-exchange groups (RFC 3526 groups when unreadable). */
  readonly moduliFile: string;
  /** The largest group-exchange group handed out (2048-8192; larger ones cost a second of CPU before login). */
  readonly maxGroupExchangeBits: number;
  /** When the server starts a key exchange by itself (RFC 4253 section 9). */
  readonly rekey: RekeyPolicy;
  readonly sftp: {
    readonly maxInFlight: number;
    readonly maxOpenHandles: number;
    readonly maxPacketLength: number;
    /** Told each request's type and handler time (the metrics' latency histogram). */
    readonly observer?: SftpRequestObserver;
  };
  /** Open handles and buffered reply bytes per connection and per user; without it only per-session limits hold. */
  readonly budgets?: ResourceBudgets;
  readonly accounts?: AccountSecurityRepository;
  readonly lockout?: LockoutPolicy;
  readonly totp?: TotpService;
  /** LDAP/AD password logins (`ldap.url`): names not in the store and accounts the directory provisioned. */
  readonly directory?: ExternalPasswordSource | undefined;
  /** Trusted user CAs and revoked certificates (read from the store at every certificate login). */
  readonly certificates?: CertificateTrust;
  /** maxSessionsPerUser counted on every node sharing the store; without it, per process only. */
  readonly sessionRegistry?: SessionRegistry;
}
