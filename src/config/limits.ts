// The admission and lockout limits every protocol's server applies (SSH, FTPS, the web client), read from the
// config in one place so the protocols cannot drift apart.
import type { FerryConfig } from './schema.js';

/** Connections, unauthenticated connections and sessions a process admits, and the idle timeout. */
export function connectionLimitsOf(config: FerryConfig) {
  return {
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    maxUnauthenticatedPerAddress: config.maxUnauthenticatedPerAddress,
    maxSessionsPerUser: config.maxSessionsPerUser,
    idleTimeout: config.idleTimeout,
  };
}

/** Failed logins of one account before it is locked, within what window, and for how long (seconds). */
export function lockoutOf(config: FerryConfig) {
  return {
    threshold: config.lockoutThreshold,
    windowSeconds: config.lockoutWindow,
    durationSeconds: config.lockoutDuration,
  };
}
