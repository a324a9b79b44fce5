// What the FTPS server is given: listeners, certificate, limits, and the services it hands off to.

import type { LockoutPolicy } from '../auth/authenticator.js';
import type { Defender } from '../auth/defender.js';
import type { ExternalPasswordSource } from '../auth/external-login.js';
import type { PasswordPolicy } from '../auth/password-policy.js';
import type { FileSessionFactory, ResourceBudgets, SessionRegistry } from '../core/types.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logger.js';
import type { ConnectionLimits } from '../ssh/admission.js';
import type { AccountSecurityRepository, UserLookup } from '../store/types.js';

export interface FtpsServerOptions {
  readonly listen: string;
  /** Explicit FTPS (AUTH TLS); undefined: no explicit listener. */
  readonly port: number | undefined;
  /** Implicit FTPS (TLS from the first byte); undefined: none. */
  readonly implicitPort: number | undefined;
  /** Inclusive passive port range; [0, 0]: any free port. */
  readonly passivePorts: readonly [number, number];
  /** IPv4 address PASV announces (the public one behind NAT); undefined: the control connection's local address. */
  readonly passiveAddress?: string;
  /** PEM certificate chain and key. */
  readonly cert: string;
  readonly key: string;
  readonly loginGraceTime: number;
  readonly maxAuthTries: number;
  readonly homesDir: string;
  /** The effective records (groups' defaults filled in). */
  readonly users: UserLookup;
  /** A password past its maximum age (or flagged) cannot be changed over FTP: such logins are refused. */
  readonly passwordPolicy?: PasswordPolicy;
  readonly fileSessions: FileSessionFactory;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly defender: Defender;
  readonly limits: ConnectionLimits & {
    readonly maxSessionsPerUser: number;
    /** Seconds without a command or transfer before a logged-in connection is closed; 0: never. */
    readonly idleTimeout: number;
  };
  /** Milliseconds a passive offer waits for its data connection and a transfer may stall. */
  readonly dataTimeoutMs?: number;
  readonly budgets?: ResourceBudgets;
  readonly accounts?: AccountSecurityRepository;
  readonly lockout?: LockoutPolicy;
  readonly directory?: ExternalPasswordSource | undefined;
  /** maxSessionsPerUser counted on every node sharing the store, with the SSH sessions; without it, per process. */
  readonly sessionRegistry?: SessionRegistry;
}
